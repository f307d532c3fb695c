"""What the warm worker and the server's master import before they fork: no thread started, no
bottle (whose request and response are thread-locals a gevent worker must make after patching)."""
from __future__ import annotations

import json
import subprocess
import sys

from scripts.core.config import ROOT


def test_the_preloaded_libraries_start_no_thread_and_bring_no_bottle():
    probe = ("import json, sys, threading\nfrom scripts.core.preload import LIBRARIES, import_libraries\nimport_libraries()\n"
             "print(json.dumps({'threads': threading.active_count(), 'bottle': 'bottle' in sys.modules,"
             " 'gevent': 'gevent' in sys.modules, 'loaded': [n for n in LIBRARIES if n in sys.modules]}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    facts = json.loads(done.stdout)
    assert facts["threads"] == 1 and not facts["bottle"] and not facts["gevent"], facts
    from scripts.core.preload import LIBRARIES

    assert facts["loaded"] == list(LIBRARIES)
