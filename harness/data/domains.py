"""Scanner/site presets for the synthetic generator: contrast, artefacts and geometry of acquisition.

The presets mimic the kind of shift seen between sites (seed 002: two institutions) and field
strengths (seed 003: 1.5/3 T training data, 7 T GRE cine target with 6 mm slices and strong B1
inhomogeneity). Values are plausible relative signal levels, not measurements.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# tissue order used by the renderer (index = tissue code)
TISSUES: tuple[str, ...] = (
    "air", "muscle", "fat", "lung", "liver", "marrow", "csf", "myocardium", "blood", "stomach",
)


@dataclass(frozen=True)
class DomainPreset:
    """Contrast and artefact settings of one simulated site."""

    name: str
    sequence: str
    contrast: dict[str, float]          # relative signal per tissue (blood pool about 1)
    contrast_jitter: float = 0.12       # per-subject relative jitter of each tissue's signal
    snr: tuple[float, float] = (18.0, 35.0)      # blood signal / noise sigma
    bias_strength: tuple[float, float] = (0.2, 0.45)  # std of the log bias field
    coil_falloff: tuple[float, float] = (0.3, 0.7)    # anterior surface-coil brightening
    banding: float = 0.0                # probability of an off-resonance dark band (SSFP at 3 T)
    b1_voids: float = 0.0               # depth of central B1 signal voids (7 T)
    blur_px: tuple[float, float] = (0.5, 1.0)
    fov_mm: tuple[float, float] = (320.0, 400.0)
    thickness_mm: tuple[float, float] = (6.0, 10.0)
    gap_mm: tuple[float, float] = (0.0, 2.0)       # extra spacing on top of the thickness
    scale: tuple[float, float] = (300.0, 2500.0)   # per-subject receiver gain (DICOM-like integers)
    tags: dict = field(default_factory=dict)


_SSFP = {"air": 0.0, "muscle": 0.28, "fat": 0.85, "lung": 0.05, "liver": 0.33, "marrow": 0.55,
         "csf": 0.9, "myocardium": 0.24, "blood": 1.0, "stomach": 0.5}
_GRE = {"air": 0.0, "muscle": 0.38, "fat": 0.9, "lung": 0.07, "liver": 0.33, "marrow": 0.6,
        "csf": 0.45, "myocardium": 0.4, "blood": 0.78, "stomach": 0.45}

PRESETS: dict[str, DomainPreset] = {
    "1.5T": DomainPreset("1.5T", "SSFP", _SSFP, thickness_mm=(8.0, 10.0), gap_mm=(0.0, 2.0)),
    "3T": DomainPreset("3T", "SSFP", {**_SSFP, "myocardium": 0.22, "liver": 0.28, "fat": 0.75},
                       snr=(25.0, 45.0), bias_strength=(0.35, 0.6), banding=0.6,
                       fov_mm=(300.0, 380.0), thickness_mm=(6.0, 8.0), gap_mm=(0.0, 2.0)),
    "7T": DomainPreset("7T", "GRE", _GRE, snr=(30.0, 55.0), bias_strength=(0.6, 0.9),
                       coil_falloff=(0.6, 1.0), b1_voids=0.7, blur_px=(0.3, 0.6),
                       fov_mm=(300.0, 340.0), thickness_mm=(6.0, 6.0), gap_mm=(0.0, 2.0)),
}


def get_preset(name: str) -> DomainPreset:
    key = {"1.5t": "1.5T", "15t": "1.5T", "3t": "3T", "3.0t": "3T", "7t": "7T"}.get(name.lower(), name)
    if key not in PRESETS:
        raise KeyError(f"unknown domain {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[key]
