"""Shared helpers of the Voice AI feature tests (test_6x_*.py); no tests in here.

Each module sets up its own tenants (tenant_common.TenantRows: names t4-*, DIDs 4999xxxxxx, dispatcher
sets 41xx) whose gateway is a uas_answer_sink.xml peer on 127.0.4.6x: the gateway's SDP names a port of
the test's own RtpSink, so the test sees exactly which RTP packets reached the gateway.
"""
import time

from sipp_harness import CARRIER_IP, PRIVATE, RtpSink, sdp_media
from tenant_common import TenantRows


class SinkGateway:
    """One AI gateway (uas_answer_sink.xml on ip:PEER_PORT, answering with payload type answer_pt and
    telephone-event 101; or another scenario whose SDP names -set sink_port, with its own -set values)
    in dispatcher set `setid`, and the tenants routed to it: {did: (name, attrs)}."""

    def __init__(self, sbc, ip, setid, tenants, answer_pt=8, scenario="uas_answer_sink.xml", sets=None):
        self.sbc = sbc
        self.rows = TenantRows(sbc)
        self.sink = RtpSink(ip)
        self.ip = ip
        self.scenario = scenario
        try:
            self.restart(**(sets if sets is not None else {"answer_pt": answer_pt}))
            self.rows.dispatcher_set(setid, [ip])
            for did, (name, attrs) in tenants.items():
                tid = self.rows.tenant(name, setid)
                self.rows.set_tenant(name, attrs=attrs)
                self.rows.did(did, tid)
            for did, (name, attrs) in tenants.items():
                got = self.rows.wait_lookup(did, lambda r, n=name, a=attrs: r.get("tenant") == n
                                            and r.get("attrs") == a)
                assert got.get("tenant") == name and got.get("attrs") == attrs, got
        except Exception:
            self.close()
            raise

    def restart(self, hold_ms=None, **sets):
        """(Re)starts the gateway's SIPp with these -set values (and -d hold_ms)."""
        self.peer = self.rows.gateway(self.ip, self.scenario, hold_ms=hold_ms,
                                      sets=dict(sets, sink_port=self.sink.port))
        return self.peer

    def close(self):
        errors = self.rows.cleanup()
        self.sink.close()
        return errors

    def mark(self):
        """Start of a test: forget the packets received so far; the peer's log position."""
        self.sink.packets.clear()
        return self.peer.mark()

    def invite(self, since, callid):
        """The EVENT=INVITE of callid at the gateway (or None), with 'fmts': the offered payload types."""
        for ev in self.peer.events("INVITE", since):
            if ev.get("callid") == callid:
                ev["port"], ev["fmts"] = sdp_media(ev["sdp_m"])
                return ev
        return None

    def wait_packets(self, pred, timeout=5.0):
        return wait_sink(self.sink, pred, timeout)


def wait_sink(sink, pred, timeout=5.0):
    """Waits until pred(sink) holds (RTP arrives asynchronously); returns pred's last value."""
    end = time.time() + timeout
    while True:
        v = pred(sink)
        if v or time.time() > end:
            return v
        time.sleep(0.1)


def media_call(sbc, did, fmts, sink_port, hold_ms=300, src=CARRIER_IP, side=PRIVATE, name="media",
               from_user="4989555000", from_name="", headers=(), start=False):
    """uac_media.xml: an INVITE offering the payload types fmts ("8 0 101") on sink_port, From
    [from_name]<sip:from_user@...>, up to three extra header lines. Run to its end unless start."""
    hdrs = list(headers) + [""] * (3 - len(headers))
    sets = {"fmts": fmts, "sink_port": sink_port, "from_user": from_user, "from_name": from_name,
            "h1": hdrs[0], "h2": hdrs[1], "h3": hdrs[2]}
    u = sbc.uac("uac_media.xml", src, side, name=name, service=did, calls=1, hold_ms=hold_ms, sets=sets)
    return u.start() if start else u.run()


def wait_log(sbc, off, callid, needle, timeout=5.0):
    """The Kamailio log lines of callid since off once one contains needle (a line may be written just
    after the message the test waited for went out), or what is there by the timeout."""
    end = time.time() + timeout
    while True:
        log = sbc.stack.log_lines_for(off, callid)
        if needle in log or time.time() > end:
            return log
        time.sleep(0.1)
