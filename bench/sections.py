"""The sections of bench/RESULTS.md that scripts other than bench.py
write, each between its own markers; bench.py keeps them."""

import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "RESULTS.md")


def replace(begin, end, text):
    """Put TEXT, which runs from the marker BEGIN to END, at the end of
    bench/RESULTS.md, instead of the section it had between them."""
    with open(PATH) as f:
        old = f.read()
    if begin in old:
        old = old[:old.index(begin)] + old[old.index(end) + len(end) + 1:]
    with open(PATH, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + text)
