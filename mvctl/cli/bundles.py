"""mvctl export and mvctl import: versions that travel between projects."""

from __future__ import annotations

from pathlib import Path

import click

from mvctl.cli.app import AppContext, emit, json_option, pass_app
from mvctl.cli.completion import complete_versions


@click.command()
@click.argument("reference", metavar="MODEL@VERSION|MODEL:ALIAS", shell_complete=complete_versions)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="The bundle file to write (FILE.tar.gz); with --format mlflow, a new folder.",
)
@click.option(
    "--format",
    "export_format",
    type=click.Choice(["bundle", "mlflow"]),
    default="bundle",
    show_default=True,
    help="bundle: for `mvctl import`; mlflow: an MLflow model directory (scikit-learn or torch models).",
)
@click.option("--with-steps", is_flag=True, help="Also pack the outputs of its training steps.")
@click.option(
    "--sign-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="An ed25519 private key (PEM) to sign the bundle's manifest with.",
)
@json_option
@pass_app
def export(
    app: AppContext,
    reference: str,
    output: Path,
    export_format: str,
    with_steps: bool,
    sign_key: Path | None,
    as_json: bool,
) -> int:
    """Pack a recorded version into a checksummed (and optionally signed) bundle: its model,
    spec, params, lineage, metrics and gate results, and with --with-steps its step outputs.

    MODEL:ALIAS names the version the alias points at now. --format mlflow writes a folder
    that `mlflow.pyfunc.load_model` loads instead."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.export import export_bundle
    from mvctl.render.bundles import export_json, format_export

    if export_format == "mlflow":
        from mvctl.ops.export_mlflow import export_mlflow

        if with_steps or sign_key is not None:
            raise click.UsageError("--with-steps and --sign-key apply to bundles only")
        result = export_mlflow(app.workspace(), reference, output)
    else:
        result = export_bundle(
            app.workspace(), reference, output, with_steps=with_steps, sign_key=sign_key
        )
    emit(app, result, as_json=as_json, json=export_json, text=format_export)
    return ExitCode.OK


@click.command(name="import")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--verify-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The publisher's ed25519 public key (PEM): the bundle must be signed by it.",
)
@click.option("--as", "as_label", metavar="LABEL", help="Declare it under this version label.")
@json_option
@pass_app
def import_(
    app: AppContext, bundle: Path, verify_key: Path | None, as_label: str | None, as_json: bool
) -> int:
    """Verify a bundle and declare it as a version (`bundle: FILE`) in the config, with the
    model when the config has none. Nothing is recorded until `mvctl apply`."""
    from mvctl.exit_codes import ExitCode
    from mvctl.ops.bundle_import import import_bundle
    from mvctl.render.bundles import format_import, import_json

    result = import_bundle(app.workspace(), bundle, verify_key=verify_key, as_label=as_label)
    emit(app, result, as_json=as_json, json=import_json, text=format_import)
    return ExitCode.OK


COMMANDS = [export, import_]
