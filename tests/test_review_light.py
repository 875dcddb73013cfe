"""`review` must start fast: no TensorFlow, Keras or Streamlit on its import path."""
from __future__ import annotations

import subprocess
import sys


def test_review_commands_do_not_import_heavy_frameworks(repo_root):
    code = (
        "import contextlib, io, sys\n"
        "from review.cli import main\n"
        "for cmd in (['validate'], ['audit'], ['spearman', '--bootstrap', '50'], ['prisma'],"
        " ['meta', '--metric', 'accuracy']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(cmd)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'streamlit', 'torch', 'jax'})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
