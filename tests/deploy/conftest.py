"""The rendered kustomize base, once per session; cluster fixtures for the pod test."""

from __future__ import annotations

import pytest

from tests.cluster.conftest import http, workdir  # noqa: F401  (fixtures)
from tests.deploy.manifests import BASE, Doc, render


@pytest.fixture(scope="session")
def rendered() -> list[Doc]:
    return render(BASE)
