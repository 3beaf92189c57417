// KEMI (app_jsdt) version of ra-test.cfg's routing, loaded with -A WITH_KEMI.
// rating_agent.authorize() returns 0 once the transaction is suspended (the function named here
// runs later, in an authorization worker) and -1 when it could not be: the outcome is already in
// $xavp(ra) then and the caller runs the same function itself.
// The UAS address is the harness default (127.0.9.3:5097).
function ksr_request_route() {
	if (KSR.siputils.has_totag() > 0) {
		if (KSR.rr.loose_route() > 0) { KSR.tm.t_relay(); return; }
		if (KSR.is_ACK() && KSR.tm.t_check_trans() > 0) { KSR.tm.t_relay(); }
		return;
	}
	if (KSR.is_CANCEL()) { if (KSR.tm.t_check_trans() > 0) KSR.tm.t_relay(); return; }
	if (!KSR.is_INVITE()) { KSR.sl.sl_send_reply(405, "Method Not Allowed"); return; }
	KSR.rr.record_route();
	KSR.dialog.dlg_manage();
	if (KSR.rating_agent.authorize("ksr_rated") < 0) {
		ksr_rated();
	}
}

function ksr_rated() {
	KSR.log("notice", "KEMI RATED ci=" + KSR.pv.get("$ci") + " authorized=" + KSR.pv.get("$xavp(ra=>authorized)") + " code=" + KSR.pv.get("$xavp(ra=>code)") + " units=" + KSR.pv.get("$xavp(ra=>max_units)") + "\n");
	if (KSR.pv.get("$xavp(ra=>authorized)") != 1) {
		KSR.rating_agent.reply();
		return;
	}
	KSR.pv.sets("$du", "sip:127.0.9.3:5097");
	KSR.tm.t_relay();
}
