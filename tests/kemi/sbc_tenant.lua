-- KEMI proof of the sbc_tenant module: a small inbound router in Lua (app_lua), run by
-- tests/sipp/test_23_tenant_kemi_lua.py with tests/kemi/kamailio-lua.cfg.
--
-- INVITE -> KSR.sbc_tenant.lookup($rU) -> KSR.sbc_tenant.check_limits() -> relay to the DID's
-- gateway_uri from $xavp(sbct=>gateway_uri). Replies: 404 unknown DID, 403 tenant disabled,
-- 484 invalid DID, 486 tenant at max_calls, 503 + Retry-After over max_cps, 500 otherwise.
-- check_limits() creates the dialog itself (no dlg_manage() here), so the dialog module tracks the
-- call and gives the tenant's slot back when it ends.

local function reply(code, reason)
	KSR.sl.sl_send_reply(code, reason)
	KSR.x.exit()
end

local function within_dialog()
	if KSR.rr.loose_route() > 0 then
		KSR.tm.t_relay()
		KSR.x.exit()
	end
	if KSR.is_ACK() then
		if KSR.tm.t_check_trans() > 0 then
			KSR.tm.t_relay()
		end
		KSR.x.exit()
	end
	reply(404, "Not here")
end

function ksr_request_route()
	if KSR.is_CANCEL() then
		if KSR.tm.t_check_trans() > 0 then
			KSR.tm.t_relay()
		end
		return
	end
	if KSR.siputils.has_totag() > 0 then
		within_dialog()
	end
	if KSR.is_ACK() then
		if KSR.tm.t_check_trans() > 0 then
			KSR.tm.t_relay()
		end
		return
	end
	if not KSR.is_INVITE() then
		reply(405, "Method Not Allowed")
	end
	-- retransmissions are absorbed by tm
	if KSR.tm.t_check_trans() == 0 then
		return
	end

	local rc = KSR.sbc_tenant.lookup(KSR.pv.gete("$rU"))
	local tenant = KSR.pv.gete("$xavp(sbct=>tenant)")
	KSR.info("lua: lookup did=" .. KSR.pv.gete("$rU") .. " rc=" .. rc .. " tenant=" .. tenant ..
		" pattern=" .. KSR.pv.gete("$xavp(sbct=>pattern)") .. "\n")
	if rc == -1 then
		reply(404, "Not Found")
	elseif rc == -2 then
		reply(403, "Tenant Disabled")
	elseif rc == -3 then
		reply(484, "Address Incomplete")
	elseif rc < 0 then
		reply(500, "Routing Not Available")
	end

	local lim = KSR.sbc_tenant.check_limits()
	KSR.info("lua: check_limits tenant=" .. tenant .. " rc=" .. lim .. "\n")
	if lim == -1 then
		reply(486, "Busy Here")
	elseif lim == -2 then
		KSR.hdr.append_to_reply("Retry-After: 1\r\n")
		reply(503, "Tenant Call Rate Exceeded")
	elseif lim < 0 then
		reply(500, "Limits Not Available")
	end

	local uri = KSR.pv.get("$xavp(sbct=>gateway_uri)")
	if uri == nil then
		reply(500, "No gateway_uri")
	end
	KSR.hdr.append("X-Tenant: " .. tenant .. "\r\n")
	KSR.rr.record_route()
	KSR.pv.sets("$du", uri)
	if KSR.tm.t_relay() < 0 then
		KSR.sl.sl_reply_error()
	end
end
