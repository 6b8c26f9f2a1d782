"""The output file of `predict_files`, written as the rows come and resumed on a re-run.

Columns: `path`, `error` (empty when the image was read), then `label_1`, `score_1` ... `label_K`, `score_K`
(classes, best first) or the feature vector (`features`: a list in JSON Lines and Parquet, `feature_1` ...
`feature_D` columns in CSV). The format is the output's suffix:
- `.csv` and `.jsonl`: rows are appended and flushed per batch; a re-run reads the paths already written (a
  last line cut short by a killed run is dropped first) and appends the rest.
- `.parquet` (pyarrow): rows go to a hidden temporary file beside the output in row groups, and the file is
  moved into place when the run ends, also on an error or Ctrl-C (SIGKILL loses the run's rows); a re-run
  copies the rows already in the output into the new file first.
"""

import csv
import json
import os

from ..arguments import named, setting
from .. import files

FORMATS = (".csv", ".jsonl", ".parquet")


def format_of(path, argument="output"):
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"{named(argument)} must end in {', '.join(FORMATS)} (the format); received {os.fspath(path)!r}."
        )
    return suffix


def columns(top, feature_count):
    """The column names of a table of the `top` classes, or of `feature_count` features when top is None."""
    if top is None:
        return ["path", "error", "features"]
    return ["path", "error"] + [f"{kind}_{rank}" for rank in range(1, top + 1) for kind in ("label", "score")]


def _drop_cut_line(path):
    """Truncates `path` after its last newline: a line a killed run left half written."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        position = size
        while position > 0:
            step = min(1 << 16, position)
            handle.seek(position - step)
            block = handle.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                handle.truncate(position - step + newline + 1)
                return
            position -= step
        handle.truncate(0)


class _TextTable:
    def __init__(self, path, names, suffix, fresh):
        self.path, self.names, self.suffix = path, names, suffix
        self.done = set()
        if not fresh and os.path.exists(path):
            _drop_cut_line(path)
            self.done = self._read_paths()
        self.handle = open(path, "a", newline="", encoding="utf-8")
        self._csv = None

    def _read_paths(self):
        with open(self.path, newline="", encoding="utf-8") as handle:
            if self.suffix == ".jsonl":
                return {json.loads(line)["path"] for line in handle if line.strip()}
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return set()
            if header[:2] != ["path", "error"] or (self.names and header != self._csv_header(len(header))):
                raise ValueError(
                    f"{self.path} holds other columns ({', '.join(header[:6])}, ...) than this run writes; "
                    f"choose another output or pass {setting('overwrite', True)} to start it afresh."
                )
            return {row[0] for row in reader if row}

    def _csv_header(self, width=None):
        if self.names[-1] != "features":
            return self.names
        return ["path", "error"] + [f"feature_{index}" for index in range(1, (width or 0) - 1)]

    def write(self, rows):
        if self.suffix == ".jsonl":
            for row in rows:
                self.handle.write(json.dumps(row) + "\n")
        else:
            for row in rows:
                values = [row["path"], row["error"]]
                if self.names[-1] == "features":
                    values += row["features"] or []
                else:
                    values += [row.get(name, "") for name in self.names[2:]]
                if self._csv is None:
                    self._csv = csv.writer(self.handle)
                    if self.handle.tell() == 0:
                        width = len(values) if self.names[-1] == "features" else None
                        self._csv.writerow(self._csv_header(width) if width else self.names)
                self._csv.writerow(values)
        self.handle.flush()
        self.done.update(row["path"] for row in rows)

    def close(self, failed=False):
        self.handle.close()


class _ParquetTable:
    def __init__(self, path, names, fresh):
        try:
            import pyarrow  # noqa: F401
        except ImportError as error:
            raise ImportError("Parquet output needs pyarrow: pip install 'keras-famous[parquet]'.") from error
        import pyarrow.parquet as parquet

        self.path, self.names, self._parquet = path, names, parquet
        self.previous = None if fresh or not os.path.exists(path) else parquet.read_table(path)
        if self.previous is not None and self.previous.column_names[:2] != ["path", "error"]:
            raise ValueError(f"{path} is not a predictions table; choose another output or pass --overwrite.")
        self.done = set() if self.previous is None else set(self.previous.column("path").to_pylist())
        self._staging = files.atomic_path(path, suffix=".parquet")
        self._tmp = self._staging.__enter__()
        self._writer = None

    def _schema(self):
        import pyarrow

        def kind(name):
            if name == "features":
                return pyarrow.list_(pyarrow.float32())
            return pyarrow.float32() if name.startswith("score_") else pyarrow.string()

        return pyarrow.schema([(name, kind(name)) for name in self.names])

    def write(self, rows):
        import pyarrow

        if self._writer is None:
            schema = self._schema() if self.previous is None else self.previous.schema
            self._writer = self._parquet.ParquetWriter(self._tmp, schema)
            if self.previous is not None:
                self._writer.write_table(self.previous)
        self._writer.write_table(pyarrow.Table.from_pylist(rows, schema=self._writer.schema))
        self.done.update(row["path"] for row in rows)

    def close(self, failed=False):
        """Moves the rows written into place (after an error too: they are kept); with nothing new, the output
        stays as it was (none is made when a run fails before its first row)."""
        if self._writer is None and (self.previous is not None or failed):
            self._staging.__exit__(RuntimeError, RuntimeError("nothing to write"), None)
            return
        if self._writer is None:
            self._parquet.write_table(self._schema().empty_table(), self._tmp)
        else:
            self._writer.close()
        self._staging.__exit__(None, None, None)


def open_table(path, top, *, overwrite=False):
    """The output table at `path` (see the module note); `done` holds the paths it already has."""
    path = os.fspath(path)
    suffix = format_of(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{named('output')} {path} is a folder; name a {suffix} file.")
    names = columns(top, None)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    if overwrite and os.path.exists(path) and suffix != ".parquet":
        os.remove(path)
    if suffix == ".parquet":
        return _ParquetTable(path, names, overwrite)
    return _TextTable(path, names, suffix, overwrite)
