"""The kustomization Flux generates for a Kustomization whose path holds none.

kustomize-controller builds every path with kustomize; a folder without a kustomization.yaml gets one
listing its manifests (fluxcd/pkg `kustomize` generator, `generateKustomization`), which the
Kustomization's targetNamespace, namePrefix, images, patches and components then edit like any other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.errors import RenderError
from core.kustomize import KUSTOMIZATION_FILES


def generated_kustomization(app_folder: Path) -> dict[str, Any]:
    """The kustomization Flux generates for a folder without one (fluxcd/pkg `kustomize` generator):
    every `.yaml` and `.yml` file below it, and each subfolder holding a kustomization as a folder not
    descended into, as `./` paths in walk order; hidden entries are left out, as source-controller
    leaves `.git` and its kin out of an artifact. RenderError when there is nothing to build."""
    resources: list[str] = []
    for parent, folders, files in os.walk(app_folder):
        here = Path(parent)
        kept = []
        for folder in sorted(name for name in folders if not name.startswith(".")):
            if kustomization_names(here / folder):
                resources.append("./" + (here / folder).relative_to(app_folder).as_posix())
            else:
                kept.append(folder)
        folders[:] = kept
        resources += [
            "./" + (here / name).relative_to(app_folder).as_posix()
            for name in sorted(files)
            if name.endswith((".yaml", ".yml")) and not name.startswith(".")
        ]
    if not resources:
        raise RenderError(
            "nothing to render: the folder holds no .yaml or .yml manifests for Flux to build; fix the "
            "Kustomization's spec.path"
        )
    resources.sort(key=lambda path: path.split("/"))  # Go's filepath.Walk: lexical order, level by level
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}


def kustomization_names(folder: Path) -> list[str]:
    """The kustomization files `folder` holds (kustomize refuses more than one)."""
    return [name for name in KUSTOMIZATION_FILES if (folder / name).is_file()]
