"""Runs last: after every call of the suite ended, nothing may be left behind."""
import time


def test_no_leftover_dialogs_or_media_sessions(sbc):
    # Ended dialogs stay listed (state 5) until their BYE transaction is gone (tm wait timer, ~5 s).
    end = time.time() + 12
    while True:
        dlgs = sbc.stack.dialog_callids()
        calls = sbc.stack.rtpe_calls()
        if (not dlgs and not calls) or time.time() > end:
            break
        time.sleep(0.2)
    assert dlgs == [], "dialogs still listed by dlg.list: %r" % dlgs
    assert calls == [], "rtpengine still holds sessions: %r" % calls
    assert sbc.stack.kamailio_alive(), sbc.stack.log_tail()
