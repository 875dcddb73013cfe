"""Deterministic synthetic cine short-axis stacks with labels from the geometry.

Each subject is an analytic 3-D heart in its own frame (z along the long axis, apex -> base,
z = 0 at the LV cavity apex at end-diastole; +x lateral wall, -x septum/RV, +y inferior/posterior):
a truncated ellipsoidal LV blood pool inside a thicker ellipsoidal myocardium, an RV crescent on
the septal side, atria, aortic root and pulmonary artery above the base, and the thorax around it
(chest wall, subcutaneous fat, lungs, liver below the heart, spine, descending aorta). Short-axis
planes are rendered with numpy broadcasting (all slices and frames of a subject at once), averaged
over sub-planes across the slice thickness, blurred, multiplied by a bias field and given Rician
noise.

Labels follow Ho & Kim 2021 (seed 000): IN when the slice centre cuts the LV blood pool with a
radius of at least `min_cavity_radius_mm`; OAP below that (no LV blood pool); OBS above the
basal plane (basal lateral myocardial crescent, no LV blood pool).
"""
from __future__ import annotations

import io
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .dataset import CardiacDataset, atomic_write_bytes
from .domains import TISSUES, DomainPreset, get_preset

GENERATOR_VERSION = "2"
T = {name: i for i, name in enumerate(TISSUES)}
MASK_CODES = {"background": 0, "lv": 1, "myocardium": 2, "rv": 3}


@dataclass
class SyntheticGenerator:
    """Makes a cohort of synthetic subjects for one domain preset.

    `realism` "v1" is the first generator (plain SSFP-like phantom); "v2" adds what the
    sim-to-real experiment showed was missing (see `_v2_anatomy` and docs/data.md).
    """

    domain: str = "1.5T"
    image_size: int = 128
    frames: str = "ed_es"            # "ed_es" or "all" (20 phases)
    sub_planes: int = 3              # samples across the slice thickness (partial volume)
    min_cavity_radius_mm: float = 3.0
    realism: str = "v2"

    def preset(self) -> DomainPreset:
        return get_preset(self.domain)

    def generate(self, n_patients: int, seed: int = 0, *, with_masks: bool = False,
                 progress: bool = True) -> CardiacDataset | tuple[CardiacDataset, np.ndarray]:
        """Subject i depends only on (seed, i, settings), so cohorts of different sizes share subjects."""
        if n_patients < 1:
            raise ValueError("n_patients must be at least 1")
        preset = self.preset()
        images, masks, tables = [], [], []
        for i in tqdm(range(n_patients), desc=f"synth {preset.name}", disable=not progress, leave=False):
            rng = np.random.default_rng([int(seed), i, _domain_salt(preset.name)])
            img, msk, rows = self._subject(rng, preset, f"syn-{preset.name}-s{seed}-{i:04d}")
            images.append(img)
            masks.append(msk)
            tables.append(rows)
        table = pd.concat(tables, ignore_index=True)
        ds = CardiacDataset(np.concatenate(images), table,
                            name=f"synthetic-{preset.name}-n{n_patients}-s{seed}",
                            meta={"generator": asdict(self), "generator_version": GENERATOR_VERSION,
                                  "seed": int(seed), "n_patients": int(n_patients)})
        return (ds, np.concatenate(masks)) if with_masks else ds

    def write(self, out: str | Path, n_patients: int, seed: int = 0, progress: bool = True) -> Path:
        """Write a dataset folder (images.npz, table.csv, dataset.json) plus masks.npz."""
        t0 = time.perf_counter()
        ds, masks = self.generate(n_patients, seed, with_masks=True, progress=progress)
        ds.meta.update({"generation_seconds": round(time.perf_counter() - t0, 3),
                        "python": platform.python_version(), "numpy": np.__version__,
                        "machine": platform.machine(), "mask_codes": MASK_CODES})
        out = ds.save(out)
        buf = io.BytesIO()
        np.savez_compressed(buf, masks=masks.astype(np.uint8))
        atomic_write_bytes(Path(out) / "masks.npz", buf.getvalue())
        return Path(out)

    def plan(self, n_patients: int, seed: int = 0) -> pd.DataFrame:
        """The table `generate` would return (one row per image: patient, frame, slice, label, ...),
        without rendering a pixel: the same random draws up to the image, so the same rows.

        Milliseconds per patient instead of seconds: what `harness sweep --dry-run` counts images with."""
        if n_patients < 1:
            raise ValueError("n_patients must be at least 1")
        preset = self.preset()
        parts = []
        for i in range(n_patients):
            rng = np.random.default_rng([int(seed), i, _domain_salt(preset.name)])
            parts.append(self._layout(rng, preset, f"syn-{preset.name}-s{seed}-{i:04d}")[-1])
        return pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in parts[0]})

    # ------------------------------------------------------------------ one subject
    def _layout(self, rng: np.random.Generator, preset: DomainPreset, pid: str):
        """Anatomy, frames, slice stack and field of view (the first draws of a subject) and its table."""
        p = _sample_anatomy(rng, preset, self.realism)
        kappas, frame_names = _frames(self.frames, rng)
        z_slices, thickness = _stack(rng, p, preset)
        fov = rng.uniform(*preset.fov_mm)
        ps = fov / self.image_size
        k, n = len(kappas), len(z_slices)
        geos = [_frame_geometry(p, kappa) for kappa in kappas]
        columns = {
            "patient": np.full(k * n, pid, dtype=object), "frame": np.repeat(np.asarray(frame_names, dtype=object), n),
            "slice_index": np.tile(np.arange(n), k), "slice_position": np.tile(np.round(z_slices - z_slices[0], 3), k),
            "label": np.concatenate([_labels(z_slices, geo, self.min_cavity_radius_mm) for geo in geos]),
            "source": np.full(k * n, "synthetic", dtype=object), "domain": np.full(k * n, preset.name, dtype=object),
            "pixel_spacing": np.full(k * n, round(ps, 5)), "slice_thickness": np.full(k * n, round(thickness, 3)),
            "z_from_apex_mm": np.tile(np.round(z_slices, 3), k),
            "base_mm": np.repeat([round(geo["L"], 3) for geo in geos], n),
        }
        return p, kappas, frame_names, z_slices, thickness, fov, columns

    def _subject(self, rng: np.random.Generator, preset: DomainPreset, pid: str):
        from scipy import ndimage  # here, not at import: `plan` needs no image code

        p, kappas, frame_names, z_slices, thickness, fov, columns = self._layout(rng, preset, pid)
        n = self.image_size
        ps = fov / n
        # image grid (mm) -> heart frame (rotation + translation)
        g = (np.arange(n) - (n - 1) / 2) * ps
        u, v = np.meshgrid(g.astype(np.float32), g.astype(np.float32))  # u: columns, v: rows
        cu, cv = rng.uniform(-0.08, 0.08, size=2) * fov
        th = np.deg2rad(rng.uniform(-35, 35))
        x = np.cos(th) * (u - cu) + np.sin(th) * (v - cv)
        y = -np.sin(th) * (u - cu) + np.cos(th) * (v - cv)
        offsets = (np.arange(self.sub_planes) - (self.sub_planes - 1) / 2) * thickness / self.sub_planes
        jitter = preset.contrast_jitter * p["jitter_gain"]   # v2: wider contrast randomisation
        contrast = {k: val * (1 + jitter * rng.standard_normal()) for k, val in preset.contrast.items()}
        contrast["air"] = 0.0
        if p["stomach_signal"] is not None:  # v2: fluid-filled stomach, bright on SSFP
            contrast["stomach"] = p["stomach_signal"] * contrast["blood"]
        lut = np.array([max(contrast[t], 0.0) for t in TISSUES], dtype=np.float32)
        bias = _bias_fields(rng, preset, n, len(z_slices), x, y)
        scale = rng.uniform(*preset.scale)
        snr = rng.uniform(*preset.snr)
        blur = rng.uniform(*preset.blur_px)
        fov_mask = _fov_mask(rng, n) if self.realism != "v1" else None
        imgs, msks = [], []
        for kappa, fname in zip(kappas, frame_names):
            geo = _frame_geometry(p, kappa)
            zz = (z_slices[:, None] + offsets[None, :]).reshape(-1)
            tissue, mask = _render(x, y, zz, p, geo, self.realism)
            signal = lut[tissue].reshape(len(z_slices), self.sub_planes, n, n).mean(axis=1)
            if p["texture"] > 0:  # tissue heterogeneity: smooth multiplicative texture
                tex = ndimage.gaussian_filter(rng.standard_normal(signal.shape).astype(np.float32), (0, 1.5, 1.5))
                signal = signal * (1 + p["texture"] * tex / (tex.std() + 1e-6))
            if p["gamma"] != 1.0:  # v2: random contrast curve (domain randomisation)
                signal = np.power(np.clip(signal, 0, None), p["gamma"])
            if self.sub_planes % 2:  # the middle sub-plane is the slice centre
                mask = mask.reshape(len(z_slices), self.sub_planes, n, n)[:, self.sub_planes // 2]
            else:
                _, mask = _render(x, y, z_slices, p, geo, self.realism)
            signal = ndimage.gaussian_filter(signal, sigma=(0, blur, blur))
            signal = signal * bias
            sigma = lut[T["blood"]] / snr
            re = signal + sigma * rng.standard_normal(signal.shape)
            im = sigma * rng.standard_normal(signal.shape)
            img = np.sqrt(re * re + im * im) * scale
            if fov_mask is not None:
                img = img * fov_mask
            imgs.append(np.clip(np.rint(img), 0, 65535).astype(np.float32))
            msks.append(mask.astype(np.uint8))
        return np.concatenate(imgs), np.concatenate(msks), pd.DataFrame(columns)


# ---------------------------------------------------------------------- anatomy sampling
def _sample_anatomy(rng: np.random.Generator, preset: DomainPreset, realism: str) -> dict:
    p = {
        "a": rng.uniform(20, 30), "L": rng.uniform(62, 88),   # ED cavity radius and length (mm)
    }
    p.update({
        "ecc": rng.uniform(0.82, 1.0), "d": rng.uniform(0.08, 0.2) * p["L"],
        "t": rng.uniform(6, 11), "t_apex": rng.uniform(4, 8),
        "ef_radius": rng.uniform(0.55, 0.82), "ef_length": rng.uniform(0.82, 0.93),
        "crescent_h": rng.uniform(4, 10), "crescent_deg": rng.uniform(50, 110),
        "crescent_dir": rng.uniform(-20, 40),
        "rv_start": rng.uniform(0.15, 0.35), "rv_w": rng.uniform(0.8, 1.3), "rv_l": rng.uniform(1.4, 1.9),
        "la_r": rng.uniform(17, 25), "ra_r": rng.uniform(17, 24), "ao_r": rng.uniform(10, 14),
        "pa_r": rng.uniform(10, 13),
        "body_a": rng.uniform(130, 175), "body_b": rng.uniform(95, 125), "subq": rng.uniform(4, 20),
        "body_c": np.array([rng.uniform(-75, -45), rng.uniform(-10, 20)]),
        "drift": rng.uniform(-0.35, 0.35, size=2),
        "diaphragm": rng.uniform(-25, 10), "liver_slope": rng.uniform(1.5, 3.0),
        "spine_d": rng.uniform(75, 100), "stomach": rng.random() < 0.6,
        "fat_t": 0.0, "pap": False, "lvot": False, "lung_k": 0.33, "liver_off": 30.0, "texture": 0.0,
        "lungs_at_heart": False, "vessels": np.zeros((0, 5)), "apex_fat": 0.0, "stomach_signal": None,
        "tilt": None, "gamma": 1.0, "jitter_gain": 1.0, "walls": 0.0,
    })
    if realism != "v1":
        p.update(_v2_anatomy(rng))
        # anterior chest wall close to the heart, thorax wider than the field of view
        p["body_c"] = np.array([p["body_c"][0], p["body_b"] - (p["a"] + p["t"]) - p["anterior_gap"]])
    return p


def _v2_anatomy(rng: np.random.Generator) -> dict:
    """What the sim-to-real comparison showed v1 lacked (docs/data.md, "Sim-to-real gap").

    Anatomy: dilated hearts as in the Sunnybrook heart-failure patients, a compact RV crescent at
    the septum, a thorax wider than the field of view with the chest wall close to the heart,
    lungs wrapping the mediastinum, the liver reaching the apical slices, epicardial and apical
    fat, papillary muscles, LVOT, walls around atria and great vessels, bright vessels and a
    fluid-filled stomach (so "several bright blobs" no longer means OBS), long-axis tilt.
    Image: tissue texture, twice the contrast jitter and a random contrast curve (gamma).
    """
    return {"a": rng.uniform(22, 34), "rv_w": rng.uniform(0.7, 1.0), "rv_l": rng.uniform(1.2, 1.6),
            "body_a": rng.uniform(180, 230), "body_b": rng.uniform(125, 160), "subq": rng.uniform(5, 25),
            "lung_k": rng.uniform(0.22, 0.3), "diaphragm": rng.uniform(0, 30), "liver_off": rng.uniform(10, 25),
            "fat_t": rng.uniform(0.5, 4.0), "pap": True, "lvot": True, "texture": rng.uniform(0.05, 0.15),
            "lungs_at_heart": True, "lung_ab": rng.uniform(40, 60, size=2), "lung_c": rng.uniform(70, 95, size=2),
            "anterior_gap": rng.uniform(15, 45), "rv_off": rng.uniform(0.75, 0.95),
            "vessels": _vessels(rng, int(rng.integers(4, 10))),
            "apex_fat": rng.uniform(10, 25), "apex_fat_depth": rng.uniform(8, 25),
            "apex_fat_dir": rng.uniform(-60, 120), "stomach": rng.random() < 0.8,
            "stomach_signal": rng.uniform(0.5, 1.0), "tilt": rng.uniform(-0.25, 0.25, size=2),
            "gamma": float(np.exp(rng.uniform(np.log(0.7), np.log(1.4)))), "jitter_gain": 2.0,
            "walls": rng.uniform(2, 4)}


def _vessels(rng: np.random.Generator, k: int) -> np.ndarray:
    """Bright tubes around the heart (IVC, mammary and pulmonary vessels): (k, 5) x0, y0, dx/dz, dy/dz, r.

    Real IN slices show several bright blobs besides the LV; without them a classifier learns
    'many bright blobs = OBS' on synthetic data."""
    ang = rng.uniform(0, 2 * np.pi, k)
    dist = rng.uniform(45, 110, k)
    return np.column_stack([dist * np.cos(ang), dist * np.sin(ang), rng.uniform(-0.3, 0.3, (k, 2)), rng.uniform(3, 9, k)])


def _frame_geometry(p: dict, kappa: float) -> dict:
    """ED (kappa 0) to ES (kappa 1): the cavity shrinks, the base descends, the wall thickens."""
    rf = 1 - kappa * (1 - p["ef_radius"])
    lf = 1 - kappa * (1 - p["ef_length"])
    a, L = p["a"] * rf, p["L"] * lf
    zc = L - p["d"] * lf
    # keep the myocardial cross-section at the equator roughly constant -> wall thickens at ES
    R_ed = p["a"] + p["t"]
    wall_area = R_ed ** 2 - p["a"] ** 2
    R = math.sqrt(a * a + wall_area / lf)
    return {"a": a, "b": a * p["ecc"], "L": L, "zc": zc, "R": R, "Rb": R * p["ecc"] + (1 - p["ecc"]) * a * 0.5,
            "t_apex": p["t_apex"] * (1 + 0.4 * kappa), "rv": 1 - 0.3 * kappa}


def _frames(frames: str, rng: np.random.Generator) -> tuple[list[float], list[str]]:
    if frames == "ed_es":
        return [0.0, 1.0], ["ED", "ES"]
    if frames == "all":
        t = np.arange(20) / 20
        es = rng.uniform(0.3, 0.4)
        kap = np.where(t <= es, 0.5 * (1 - np.cos(np.pi * t / es)), 0.5 * (1 + np.cos(np.pi * (t - es) / (1 - es))))
        return kap.tolist(), [f"phase{i + 1:02d}" for i in range(20)]
    raise ValueError(f"frames must be 'ed_es' or 'all', got {frames!r}")


def _stack(rng: np.random.Generator, p: dict, preset: DomainPreset) -> tuple[np.ndarray, float]:
    """10-16 slices 6-10 mm apart from below the apex to above the base, random coverage."""
    thickness = rng.uniform(*preset.thickness_mm)
    spacing = float(np.clip(thickness + rng.uniform(*preset.gap_mm), 6.0, 10.0))
    heart = p["L"] + p["t_apex"] + p["crescent_h"]
    extra = rng.uniform(0.5, 4.0) * spacing          # coverage beyond the heart, split below/above
    n = int(np.clip(round((heart + extra) / spacing) + 1, 10, 16))
    span = (n - 1) * spacing
    below = -p["t_apex"] - rng.uniform(0.05, 0.75) * max(span - heart, 0.5 * spacing)
    return below + spacing * np.arange(n), thickness


# ---------------------------------------------------------------------- rendering
def _ellipse(x, y, cx, cy, ra, rb):
    """Inside-ellipse test; float32 and in-place squares keep the big broadcast arrays few."""
    a = np.subtract(x, cx, dtype=np.float32)
    a = a * np.float32(1.0) / ra if np.ndim(ra) else a * np.float32(1.0 / ra)
    np.multiply(a, a, out=a)
    b = np.subtract(y, cy, dtype=np.float32)
    b = b * np.float32(1.0) / rb if np.ndim(rb) else b * np.float32(1.0 / rb)
    np.multiply(b, b, out=b)
    return np.add(a, b, out=a if a.shape == np.broadcast_shapes(a.shape, b.shape) else None) <= 1.0


def _render(x: np.ndarray, y: np.ndarray, zs: np.ndarray, p: dict, g: dict, realism: str):
    """Tissue codes and LV/myo/RV mask for each plane z in zs: arrays (len(zs), H, W)."""
    z = np.asarray(zs, dtype=np.float32)[:, None, None]
    X, Y = x[None], y[None]
    tissue = np.zeros(np.broadcast_shapes(z.shape, X.shape), dtype=np.uint8)
    mask = np.zeros_like(tissue)
    # thorax drifts with z (short-axis planes are oblique to the body axis)
    bx = p["body_c"][0] + p["drift"][0] * z
    by = p["body_c"][1] + p["drift"][1] * z
    body = _ellipse(X, Y, bx, by, p["body_a"], p["body_b"])
    inner = _ellipse(X, Y, bx, by, p["body_a"] - p["subq"], p["body_b"] - p["subq"])
    tissue[body] = T["fat"]
    tissue[inner] = T["muscle"]
    chest = _ellipse(X, Y, bx, by, p["body_a"] - p["subq"] - 12, p["body_b"] - p["subq"] - 12)
    k = p["lung_k"]
    lung_l = _ellipse(X, Y, bx + 0.55 * p["body_a"], by + 10, k * p["body_a"], k / 0.33 * 0.6 * p["body_b"]) & chest
    lung_r = _ellipse(X, Y, bx - 0.5 * p["body_a"], by + 10, k * p["body_a"], k / 0.33 * 0.6 * p["body_b"]) & chest
    if p["lungs_at_heart"]:  # lungs wrap the mediastinum: lateral to the LV and beyond the RV
        R0 = p["a"] + p["t"]
        lung_l = _ellipse(X, Y, R0 + 0.8 * p["lung_ab"][0], 15, p["lung_ab"][0], p["lung_c"][0]) & chest
        lung_r = _ellipse(X, Y, -R0 * (1 + p["rv_w"]) - 0.8 * p["lung_ab"][1], 15, p["lung_ab"][1], p["lung_c"][1]) & chest
    tissue[lung_l | lung_r] = T["lung"]
    # liver: below the diaphragm, rising from the inferior side as z decreases
    dist_inf = Y - (p["liver_off"] + p["liver_slope"] * (z - p["diaphragm"]))
    liver = chest & (dist_inf > 0) & (X < bx + 0.35 * p["body_a"])
    tissue[liver] = T["liver"]
    if p["stomach"]:
        st = chest & _ellipse(X, Y, bx + 0.45 * p["body_a"], 40 + 2.5 * (z - p["diaphragm"]), 40, 30) & (z < p["diaphragm"] + 15)
        tissue[st] = T["stomach"]
    for vx, vy, dx, dy, vr in p["vessels"]:
        tissue[_ellipse(X, Y, vx + dx * z, vy + dy * z, vr, vr) & body] = T["blood"]
    sx, sy = bx - 0.05 * p["body_a"], by + p["body_b"] - p["subq"] - 35
    tissue[_ellipse(X, Y, sx, sy, 18, 16)] = T["marrow"]
    tissue[_ellipse(X, Y, sx, sy + 22, 6, 6)] = T["csf"]
    tissue[_ellipse(X, Y, sx + 25, sy - 18, 11, 11)] = T["blood"]  # descending aorta
    if p["tilt"] is not None:  # v2: long axis oblique to the stack normal, the heart drifts across slices
        X = X - p["tilt"][0] * (z - 0.5 * g["L"])
        Y = Y - p["tilt"][1] * (z - 0.5 * g["L"])
    if p["apex_fat"] > 0:  # v2: apical epicardial fat pad, bright below and around the apex
        zf = np.clip((0.25 * g["L"] - z) / (0.25 * g["L"] + p["t_apex"] + p["apex_fat_depth"]), 0, 1)
        rf = p["apex_fat"] * np.sqrt(np.clip(1 - (2 * zf - 1) ** 2, 0, None)) + 1e-3
        ca, sa = np.cos(np.deg2rad(p["apex_fat_dir"])), np.sin(np.deg2rad(p["apex_fat_dir"]))
        fat_pad = _ellipse(X, Y, 0.6 * p["a"] * ca, 0.6 * p["a"] * sa, rf * 1.3, rf) & (zf > 0) & (zf < 1)
        tissue[fat_pad & body] = T["fat"]
    # LV geometry at each z
    zc, L = g["zc"], g["L"]
    cz = zc
    q = 1 - ((z - zc) / cz) ** 2
    in_lv = (z >= 0) & (z <= L)
    ra = g["a"] * np.sqrt(np.clip(q, 0, None))
    rb = g["b"] * np.sqrt(np.clip(q, 0, None))
    qe = 1 - ((z - zc) / (cz + g["t_apex"])) ** 2
    Ra = g["R"] * np.sqrt(np.clip(qe, 0, None))
    Rb = g["Rb"] * np.sqrt(np.clip(qe, 0, None))
    in_epi = (z >= -g["t_apex"]) & (z <= L) & (qe > 0)
    epi = _ellipse(X, Y, 0, 0, np.maximum(Ra, 1e-3), np.maximum(Rb, 1e-3)) & in_epi
    cav = _ellipse(X, Y, 0, 0, np.maximum(ra, 1e-3), np.maximum(rb, 1e-3)) & in_lv & (q > 0)
    # RV: crescent on the septal side, from part-way up the LV to just above the base
    rv_on = (z >= p["rv_start"] * L) & (z <= L + 6)
    rv_prof = np.sqrt(np.clip((z - p["rv_start"] * L) / ((1 - p["rv_start"]) * L), 0, 1)) * g["rv"]
    rv_cx = -(g["R"] * p.get("rv_off", 0.55))
    rv_outer = _ellipse(X, Y, rv_cx, 0, np.maximum(p["rv_w"] * g["R"] * rv_prof + 3, 1e-3),
                        np.maximum(p["rv_l"] * g["R"] * rv_prof + 3, 1e-3)) & rv_on & (X < 0.2 * g["R"])
    rv_cav = _ellipse(X, Y, rv_cx, 0, np.maximum(p["rv_w"] * g["R"] * rv_prof, 1e-3),
                      np.maximum(p["rv_l"] * g["R"] * rv_prof, 1e-3)) & rv_on & (X < 0.2 * g["R"])
    heart_fat = np.zeros_like(epi)
    if p["fat_t"] > 0:
        heart_fat = (_ellipse(X, Y, 0, 0, Ra + p["fat_t"] + 1e-3, Rb + p["fat_t"] + 1e-3) & in_epi) | (rv_outer & ~rv_cav)
        grow = _ellipse(X, Y, rv_cx, 0, p["rv_w"] * g["R"] * rv_prof + 3 + p["fat_t"] + 1e-3,
                        p["rv_l"] * g["R"] * rv_prof + 3 + p["fat_t"] + 1e-3) & rv_on & (X < 0.2 * g["R"])
        heart_fat |= grow
        tissue[heart_fat] = T["fat"]
    tissue[rv_outer] = T["myocardium"]
    tissue[rv_cav & ~epi] = T["blood"]
    mask[rv_cav & ~epi] = MASK_CODES["rv"]
    tissue[epi] = T["myocardium"]
    mask[epi] = MASK_CODES["myocardium"]
    tissue[cav] = T["blood"]
    mask[cav] = MASK_CODES["lv"]
    if p["pap"]:  # papillary muscles: dark dots in the cavity of mid slices
        pm_on = (z > 0.25 * L) & (z < 0.8 * L)
        for ang in (40.0, 140.0):
            c, s = np.cos(np.deg2rad(ang)), np.sin(np.deg2rad(ang))
            pm = _ellipse(X, Y, 0.7 * ra * c, 0.7 * rb * s, 0.11 * ra + 0.5, 0.11 * rb + 0.5) & cav & pm_on
            tissue[pm] = T["myocardium"]
    # above the base: lateral myocardial crescent, atria, great vessels
    h = z - L
    above = h > 0
    ang = np.rad2deg(np.arctan2(Y, X)) - p["crescent_dir"]
    ang = (ang + 180) % 360 - 180
    half = p["crescent_deg"] * np.clip(1 - h / p["crescent_h"], 0, 1)
    ring = _ellipse(X, Y, 0, 0, g["R"], g["Rb"]) & ~_ellipse(X, Y, 0, 0, g["R"] - 0.8 * p["t"], g["Rb"] - 0.8 * p["t"])
    cres = ring & above & (np.abs(ang) < half)
    tissue[cres] = T["myocardium"]
    la_r = p["la_r"] * np.clip((h - 1) / 8, 0, 1)
    la = _ellipse(X, Y, 0.15 * g["R"], 0.35 * g["R"], np.maximum(la_r, 1e-3), np.maximum(la_r * 0.85, 1e-3)) & above
    w = p["walls"]  # v2: dark walls around atria and great vessels (v1: none)
    if w > 0:
        tissue[_ellipse(X, Y, 0.15 * g["R"], 0.35 * g["R"], la_r + w, la_r * 0.85 + w) & above & (la_r > 0)] = T["myocardium"]
    tissue[la & ~cres] = T["blood"]
    ra_r = p["ra_r"] * np.clip((h - 3) / 8, 0, 1)
    rat = _ellipse(X, Y, -g["R"] - 18, 12, np.maximum(ra_r, 1e-3), np.maximum(ra_r, 1e-3)) & (h > 3)
    if w > 0:
        tissue[_ellipse(X, Y, -g["R"] - 18, 12, ra_r + w, ra_r + w) & (h > 3) & (ra_r > 0)] = T["myocardium"]
    tissue[rat] = T["blood"]
    lvot_from = -12.0 if p["lvot"] else 0.0
    ao = _ellipse(X, Y, -0.45 * g["R"], -0.55 * g["R"], p["ao_r"], p["ao_r"]) & (h > lvot_from)
    pa = _ellipse(X, Y, -0.7 * g["R"], -g["R"] - 12, p["pa_r"], p["pa_r"]) & (h > 8)
    if w > 0:
        tissue[_ellipse(X, Y, -0.45 * g["R"], -0.55 * g["R"], p["ao_r"] + w, p["ao_r"] + w) & above] = T["myocardium"]
        tissue[_ellipse(X, Y, -0.7 * g["R"], -g["R"] - 12, p["pa_r"] + w, p["pa_r"] + w) & (h > 8)] = T["myocardium"]
    tissue[ao] = T["blood"]
    tissue[pa] = T["blood"]
    return tissue, mask


def _bias_fields(rng, preset: DomainPreset, n: int, n_slices: int, x, y) -> np.ndarray:
    """Smooth multiplicative field per slice: random low-frequency field, anterior coil, B1 voids, bands."""
    from scipy import ndimage

    def smooth():
        coarse = rng.standard_normal((5, 5))
        f = ndimage.zoom(coarse, n / 5, order=3)[:n, :n]
        return f / (f.std() + 1e-6)
    strength = rng.uniform(*preset.bias_strength)
    f0, f1 = smooth(), smooth()
    w = np.linspace(0, 1, n_slices)[:, None, None]
    log_b = strength * ((1 - w) * f0 + w * f1)
    # anterior surface coil: brighter towards the chest wall (-y in the heart frame ~ anterior)
    fall = rng.uniform(*preset.coil_falloff)
    log_b = log_b + fall * np.clip(-y / 150.0, -1, 1)[None]
    field = np.exp(log_b)
    if preset.b1_voids > 0:  # 7 T: destructive B1 interference, dark patches near the heart
        cx, cy = rng.uniform(-60, 60, size=2)
        r = rng.uniform(25, 50)
        void = 1 - preset.b1_voids * rng.uniform(0.5, 1.0) * np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r)))
        field = field * void[None]
    if preset.banding > 0 and rng.random() < preset.banding:  # SSFP off-resonance dark band
        phi = rng.uniform(0, np.pi)
        d = np.cos(phi) * x + np.sin(phi) * y - rng.uniform(-60, 60)
        band = 1 - rng.uniform(0.5, 0.9) * np.exp(-(d / rng.uniform(2, 5)) ** 2)
        field = field * band[None]
    return field.astype(np.float32)


def _fov_mask(rng, n: int) -> np.ndarray | None:
    """Zero-filled corners/edges as on reconstructed scanner images (half of subjects)."""
    if rng.random() < 0.5:
        return None
    g = (np.arange(n) - (n - 1) / 2) / (n / 2)
    u, v = np.meshgrid(g, g)
    r = rng.uniform(0.95, 1.3)
    return (np.sqrt(u * u + v * v) <= r).astype(np.float32)


def _labels(z: np.ndarray, g: dict, min_r: float) -> list[str]:
    q = 1 - ((z - g["zc"]) / g["zc"]) ** 2
    r = g["b"] * np.sqrt(np.clip(q, 0, None))
    out = np.where(z > g["L"], "OBS", np.where((z >= 0) & (r >= min_r), "IN", "OAP"))
    # cavity radius grows monotonically from the apex, so OAP is only below the IN range
    return out.tolist()


def _domain_salt(name: str) -> int:
    return sum(ord(c) * (i + 1) for i, c in enumerate(name))
