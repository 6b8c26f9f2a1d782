"""README.md's catalog table is what `keras-famous list --markdown` prints."""

from pathlib import Path

from keras_famous import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_matches_registry():
    readme_rows = [line for line in README.read_text().splitlines() if line.startswith("|")]
    expected = cli.format_table(cli.CATALOG_HEADER, cli.catalog_rows(), markdown=True).splitlines()
    assert readme_rows == expected, "regenerate the README table with `keras-famous list --markdown`"
