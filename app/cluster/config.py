"""Settings of the local Citus cluster (environment prefix RISKATLAS_CITUS_)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.settings import PROJECT_ROOT, get_settings


class ClusterSettings(BaseSettings):
    """Where the cluster lives, its ports and where Citus's source is."""

    model_config = SettingsConfigDict(env_prefix="RISKATLAS_CITUS_", extra="ignore")

    # The vendored source (citus-<version>.tar.gz and its patch). In a clone the shared
    # directory sits beside the repository (…/work/main and …/work/shared).
    source_dir: Path = PROJECT_ROOT.parent / "shared" / "vendor" / "citus"
    # Data directories of the nodes, their passwords and the build tree; never the embedded
    # cluster's .data/postgres.
    data_dir: Path = Field(default_factory=lambda: get_settings().data_dir / "citus")
    # The coordinator listens on `port`, worker i on port + i.
    port: int = 54500
    workers: int = 2
    database_name: str = "riskatlas"
    # Per node: three nodes share the machine.
    shared_buffers: str = "256MB"

    @property
    def ports(self) -> list[int]:
        """The coordinator's port, then the workers'."""
        return [self.port + i for i in range(self.workers + 1)]
