"""CycloneDX SBOMs of what we ship: each wheel, and the image's Python set.

An SBOM describes an installed environment (``cyclonedx-py environment``):
for a wheel, a fresh venv holding it with every extra and its dependencies
(``.ci/release sbom``); for the image, the venv its build stage made
(.ci/image_layer.py, and the image workflow from the image's own venv).
cyclonedx-py validates each document against the CycloneDX schema as it
writes it. The generator is pinned with hashes in .ci/sbom-tools.txt and
lives in a venv of its own, outside the environments it describes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent / "sbom-tools.txt"


def cyclonedx_py() -> Path:
    """The pinned cyclonedx-py, installed once per version of .ci/sbom-tools.txt."""
    digest = hashlib.sha256(TOOLS.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "acme"
    venv = cache / f"sbom-tools-{digest}"
    tool = venv / "bin" / "cyclonedx-py"
    if not tool.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
             "--disable-pip-version-check", "--require-hashes", "-r", str(TOOLS)],
            check=True,
        )  # fmt: skip
    return tool


def environment_sbom(python: Path, out: Path) -> dict[str, int]:
    """Write the (schema-validated) SBOM of the environment of ``python``; return a summary."""
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(cyclonedx_py()), "environment", "--output-format", "JSON", "--validate",
         "--output-file", str(out), str(python)],
        check=True,
    )  # fmt: skip
    document = json.loads(out.read_text())
    if document.get("bomFormat") != "CycloneDX":
        raise ValueError(f"{out} is not a CycloneDX document")
    return {"components": len(document.get("components", []))}


if __name__ == "__main__":
    # `python3 .ci/sbom.py`: install the pinned generator now (CI's prerequisites).
    print(f"cyclonedx-py: {cyclonedx_py()}")
