"""The web page of ``seq2seq-es serve``: server-rendered HTML, one small script, no build step."""
