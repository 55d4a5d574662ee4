"""Load ``mvctl.yaml`` and its included files into a frozen ``Config``, or report every problem.

The flow: bytes -> ``reader`` (plain values, positions, YAML traps) -> ``include:`` files
merged in (``merged``) -> pydantic (shape, via ``messages``) -> ``checks`` (meaning). Problems are
collected across all of these and raised together as one ``SpecErrors``, sorted by file and
line, so ``mvctl validate`` shows a user everything to fix in one pass. Nothing here raises
anything but ``SpecErrors`` whatever bytes it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mvctl.collector import built_to_last
from mvctl.errors import SpecError
from mvctl.spec.checks import check_config, check_model
from mvctl.spec.merged import ConfigFiles
from mvctl.spec.messages import schema_errors
from mvctl.spec.models import Config, ModelSpec
from mvctl.spec.positions import Positions, dotted


@dataclass(frozen=True)
class LoadedConfig:
    """A valid configuration and where each part of it was written.

    ``root`` is the (absolute) folder of the main file: the project root that relative
    paths in the configuration start from. ``files`` are the main file then the included
    ones, as given or joined to the main file's folder, for display.
    """

    config: Config
    root: Path
    files: tuple[Path, ...]
    positions: Positions


def load_config(path: Path, texts: Mapping[Path, str] | None = None) -> LoadedConfig:
    """Read, merge, validate and check a configuration; raise ``SpecErrors`` listing all problems.

    ``texts``: contents to read instead of the files at these (resolved) paths, to check an
    edit before it is written (`mvctl freeze`)."""
    with built_to_last():
        return _Loader(path, texts or {}).load()


class _Loader(ConfigFiles):
    """Validates and checks what ``ConfigFiles`` merged."""

    def load(self) -> LoadedConfig:
        data, entry = self.merge()
        positions = Positions(tuple(self.names), entry)
        config: Config | None = None
        try:
            config = Config.model_validate(data, by_name=False)
        except ValidationError as exc:
            self.errors += schema_errors(exc, positions, self.reported, Config)
        meaning: list[SpecError] = []
        if config is not None:
            meaning = check_config(config, positions, self.path_exists)
        elif isinstance(data.get("models"), dict):
            # The whole failed; still check the meaning of each model that is well formed.
            for name, body in data["models"].items():
                try:
                    model = ModelSpec.model_validate(body, by_name=False)
                except ValidationError:
                    continue
                meaning += check_model(name, model, positions, self.path_exists)
        # A value the reader already reported (a label YAML read as a number) was kept as
        # written to go on checking; what the checks say about it again is noise.
        already = {dotted(path) for path in self.reported}
        self.errors += [error for error in meaning if error.field not in already]
        if self.errors or config is None:
            raise self.failure()
        return LoadedConfig(config, self.root, tuple(self.files), positions)

    def path_exists(self, relative: str) -> bool:
        return (self.root / relative).exists()
