"""What the warm worker and the server's master import before they fork: no thread started, no
bottle (whose request and response are thread-locals a gevent worker must make after patching)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scripts.core.config import ROOT


@pytest.mark.parametrize("extra", ["()", "REMOTE_LIBRARIES"])
def test_the_preloaded_libraries_start_no_thread_bring_no_bottle_and_are_frozen(extra):
    probe = ("import gc, json, sys, threading\nfrom scripts.core.preload import LIBRARIES, REMOTE_LIBRARIES, import_libraries\n"
             f"import_libraries({extra})\n"
             "print(json.dumps({'threads': threading.active_count(), 'bottle': 'bottle' in sys.modules,"
             " 'gevent': 'gevent' in sys.modules, 'frozen': gc.get_freeze_count(), 'tracked': len(gc.get_objects()),"
             f" 'loaded': [n for n in (*LIBRARIES, *{extra}) if n in sys.modules]}}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    facts = json.loads(done.stdout)
    assert facts["threads"] == 1 and not facts["bottle"] and not facts["gevent"], facts
    from scripts.core.preload import LIBRARIES, REMOTE_LIBRARIES

    assert facts["loaded"] == list(LIBRARIES) + (list(REMOTE_LIBRARIES) if extra != "()" else [])
    assert facts["frozen"] > 100_000 and facts["tracked"] < 1000, "what the imports made is out of the collector's reach"
