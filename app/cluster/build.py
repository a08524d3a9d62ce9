"""Citus from the vendored source, built and installed when the extension is missing.

Citus is not packaged by Debian and its package repository may be out of reach, so the
source (a `git archive` of a release tag) and a patch for Debian's PostgreSQL 15 are kept
beside the repository (ClusterSettings.source_dir, README.md there). The build needs
PostgreSQL's server headers: installing `postgresql-server-dev-15` may upgrade the
postgresql-15 server packages to the same minor release; running servers keep running.
"""

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from app.cluster.config import ClusterSettings
from app.embedded_db import EmbeddedDatabaseError, ensure_installed

PG_LIB = Path("/usr/lib/postgresql/15/lib")
EXTENSION_DIR = Path("/usr/share/postgresql/15/extension")
PG_CONFIG = Path("/usr/lib/postgresql/15/bin/pg_config")
BUILD_PACKAGES = (
    "postgresql-server-dev-15",
    "libcurl4-openssl-dev",
    "liblz4-dev",
    "libzstd-dev",
    "libkrb5-dev",
    "libssl-dev",
    "autoconf",
    "flex",
    "bison",
    "make",
    "gcc",
    "patch",
)


class CitusUnavailableError(EmbeddedDatabaseError):
    """Citus is not installed and cannot be built here (no source, no apt-get, not root)."""


def is_installed() -> bool:
    """True when PostgreSQL 15 can load the citus extension."""
    return (PG_LIB / "citus.so").exists() and (EXTENSION_DIR / "citus.control").exists()


def source_archive(settings: ClusterSettings) -> Path:
    """The vendored source archive, or CitusUnavailableError saying where it was looked for."""
    archives = sorted(settings.source_dir.glob("citus-*.tar.gz"))
    if not archives:
        raise CitusUnavailableError(
            f"the citus extension is not installed and no Citus source (citus-*.tar.gz) is in "
            f"{settings.source_dir} (set RISKATLAS_CITUS_SOURCE_DIR)"
        )
    return archives[-1]


def unavailable_reason(settings: ClusterSettings) -> str | None:
    """Why Citus can be neither used nor built here, or None when it can."""
    if is_installed():
        return None
    try:
        source_archive(settings)
    except CitusUnavailableError as error:
        return str(error)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "building Citus needs root and apt-get (for PostgreSQL's server headers)"
    return None


def _run(args: list[str], cwd: Path, log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise CitusUnavailableError(f"`{' '.join(args)}` failed: see {log}")


def ensure_citus(settings: ClusterSettings) -> str:
    """Install PostgreSQL/PostGIS if needed, then build and install Citus if missing."""
    ensure_installed()
    if is_installed():
        return "citus extension installed"
    archive = source_archive(settings)
    reason = unavailable_reason(settings)
    if reason:
        raise CitusUnavailableError(reason)
    build_root = settings.data_dir / "build"
    shutil.rmtree(build_root, ignore_errors=True)
    build_root.mkdir(parents=True)
    log = build_root / "build.log"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"building Citus from {archive.name} (log: {log}) …", flush=True)
    for args in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *BUILD_PACKAGES],
    ):
        with log.open("a", encoding="utf-8") as out:
            result = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        if result.returncode != 0:
            raise CitusUnavailableError(f"`{' '.join(args)}` failed: see {log}")
    with tarfile.open(archive) as tar:
        tar.extractall(build_root, filter="data")
    source = next(p for p in build_root.iterdir() if p.is_dir())
    for patch in sorted(settings.source_dir.glob("*.patch")):
        _run(["patch", "-p1", "-i", str(patch)], source, log)
    # libcurl serves only Citus's anonymous statistics collection: not wanted.
    _run(["./configure", "--without-libcurl", f"PG_CONFIG={PG_CONFIG}"], source, log)
    _run(["make", f"-j{os.cpu_count() or 2}"], source, log)
    _run(["make", "install"], source, log)
    if not is_installed():
        raise CitusUnavailableError(f"Citus built but not found in {PG_LIB}: see {log}")
    return f"citus built from {archive.name} and installed"
