#!/usr/bin/python3
"""What pandas reads from panseval's table writer, with default options.

Run from the repository root:
    /usr/bin/python3 tests/reference/io_table_readers.py

Reads tests/golden/io/table_nonfinite.{csv,tsv,json} (written by ps_table_writer; the unit
test io_table checks that the writer still produces these bytes) with pandas.read_csv,
read_csv(sep='\\t') and read_json, all other options at their defaults (and once more with the options that make
pandas exact: float_precision="round_trip", precise_float=True), and writes
tests/golden/io/table_readers_pandas.tsv: one line per format and row with the dtype pandas
chose for the value column, the value (repr of the float: nan, inf, -inf or 17 digits) and
the text of the name column. The test compares each value with what panseval's own reader
gives for the same file, bit for bit.
"""
import sys

import pandas as pd

G = "tests/golden/io"


def main():
    out = ["format\trow\tdtype\tvalue\tname"]
    reads = {
        "csv": lambda p: pd.read_csv(p),
        "tsv": lambda p: pd.read_csv(p, sep="\t"),
        "json": lambda p: pd.read_json(p),
        # the options that make pandas read every double exactly (its defaults may be off
        # by an ulp or more: read_csv's fast float parser, read_json's ujson)
        "csv+round_trip": lambda p: pd.read_csv(p, float_precision="round_trip"),
        "json+precise_float": lambda p: pd.read_json(p, precise_float=True),
    }
    for fmt, read in reads.items():
        d = read(f"{G}/table_nonfinite.{fmt.split('+')[0]}")
        for i, (name, v) in enumerate(zip(d["name"], d["value"])):
            name = str(name).replace("\n", "\\n").replace("\t", "\\t")
            out.append(f"{fmt}\t{i}\t{d['value'].dtype}\t{float(v)!r}\t{name}")
    with open(f"{G}/table_readers_pandas.tsv", "w") as f:
        f.write(f"# pandas {pd.__version__}, python {sys.version.split()[0]}; "
                "written by tests/reference/io_table_readers.py\n")
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
