"""The command layer: one thin module per ``seq2seq-es`` sub-command.

Each module exposes ``COMMANDS``: records (``base.Command``) of a config schema, a
``run(config)`` that calls the libraries below, and a ``show`` for the terminal.
``cli.py`` turns the records into Typer commands. Nothing below this layer imports it
(``import-linter`` checks), and the modules import only light config schemas at the
top, so ``seq2seq-es --help`` and a config error never load torch.
"""
