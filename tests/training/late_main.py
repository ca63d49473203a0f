"""Run the ``seq2seq-es`` CLI with its main process (``RANK`` 0) starting late.

    python late_main.py SECONDS -- pretrain output_dir=... (CLI arguments)

torchrun's script: the other ranks start the CLI at once; rank 0 starts once ``output_dir``
exists (another rank has written into it) or after SECONDS, whichever comes first, as on a
cluster whose nodes come up at different moments. Nothing in the package knows about it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    seconds, separator, *cli_args = sys.argv[1:]
    assert separator == "--", "usage: late_main.py SECONDS -- CLI ARGS"
    if os.environ.get("RANK", "0") == "0":
        output_dir = Path(next(a for a in cli_args if a.startswith("output_dir=")).split("=", 1)[1])
        deadline = time.monotonic() + float(seconds)
        while not output_dir.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    sys.argv = ["seq2seq-es", *cli_args]
    from seq2seq_es.cli import main

    main()
