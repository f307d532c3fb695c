"""The make stages and the release commands. Each stage declares the params sections it reads
(PARAMS, beside its main) and loads only those; tests/pipeline/test_makefile.py holds the
Makefile's stamps to the same lists."""
