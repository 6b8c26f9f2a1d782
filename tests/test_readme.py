"""README.md's catalog table is what `keras-famous list --markdown` prints."""

from pathlib import Path

from keras_famous import catalog, cli

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_table_matches_registry():
    section = README.read_text().split("\n## Catalog\n", 1)[1].split("\n## ", 1)[0]
    readme_rows = [line for line in section.splitlines() if line.startswith("|")]
    expected = cli.format_table(catalog.HEADER, catalog.rows(), markdown=True).splitlines()
    assert readme_rows == expected, "regenerate the README table with `keras-famous list --markdown`"
