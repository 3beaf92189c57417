-- kamailio-sbc: demo routing data for `make run` (loopback topology of DESIGN.md section 6).
-- Load after sql/kamailio_schema.sql:  mysql kamailio < sql/demo_data.sql
-- Idempotent: every row is keyed on its natural key (address grp+ip, dispatcher setid+destination,
-- tenant name, DID) and replaced or upserted, so loading it twice gives the same rows; rows that are
-- not part of the demo are left alone.
--
-- SIP port: scripts/stack.sh replaces the token @SIP_PORT@ below with its SIP port (5060 for `make run`,
-- another one for the test stack), so the dispatcher `socket=` attrs name a socket Kamailio really
-- listens on (a socket it does not listen on makes the dispatcher reload fail). Loaded as-is, without
-- the substitution, the port falls back to 5060.
SET @sbc_port := '@SIP_PORT@';
SET @sbc_port := IF(@sbc_port REGEXP '^[0-9]+$', @sbc_port, '5060');

-- ---------------------------------------------------------------------------------------------------
-- Source-IP ACL (permissions `address` table)
--   group 1 = carriers (private side), group 2 = AI gateways (public side)
-- ---------------------------------------------------------------------------------------------------
DELETE FROM address WHERE (grp = 1 AND ip_addr = '127.0.1.10')
    OR (grp = 2 AND ip_addr IN ('127.0.2.10', '127.0.2.11', '127.0.3.10'));
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES
    (1, '127.0.1.10', 32, 0, 'demo carrier'),
    (2, '127.0.2.10', 32, 0, 'demo gateway vapi-a'),
    (2, '127.0.2.11', 32, 0, 'demo gateway vapi-b'),
    (2, '127.0.3.10', 32, 0, 'demo gateway livekit');

-- ---------------------------------------------------------------------------------------------------
-- Dispatcher sets (algorithm 9 = weights from attrs; socket = the SBC socket facing that peer)
--   set 1  = carrier (CARRIER_GROUP), sent from the private socket 127.0.1.1
--   set 10 = tenant vapi-demo's gateways, 50/50, sent from the public socket 127.0.2.1
--   set 20 = tenant livekit-demo's gateway (and vapi-demo's fallback)
-- ---------------------------------------------------------------------------------------------------
-- Matched on setid + host whatever the port, so reloading with another SIP port replaces the rows.
DELETE FROM dispatcher WHERE (setid = 1 AND SUBSTRING_INDEX(destination, ':', 2) = 'sip:127.0.1.10')
    OR (setid = 10 AND SUBSTRING_INDEX(destination, ':', 2) IN ('sip:127.0.2.10', 'sip:127.0.2.11'))
    OR (setid = 20 AND SUBSTRING_INDEX(destination, ':', 2) = 'sip:127.0.3.10');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES
    (1,  CONCAT('sip:127.0.1.10:', @sbc_port), 0, 0,
         CONCAT('socket=udp:127.0.1.1:', @sbc_port), 'demo carrier'),
    (10, CONCAT('sip:127.0.2.10:', @sbc_port), 0, 0,
         CONCAT('weight=50;socket=udp:127.0.2.1:', @sbc_port), 'vapi-demo gateway a'),
    (10, CONCAT('sip:127.0.2.11:', @sbc_port), 0, 0,
         CONCAT('weight=50;socket=udp:127.0.2.1:', @sbc_port), 'vapi-demo gateway b'),
    (20, CONCAT('sip:127.0.3.10:', @sbc_port), 0, 0,
         CONCAT('weight=100;socket=udp:127.0.2.1:', @sbc_port), 'livekit-demo gateway');

-- ---------------------------------------------------------------------------------------------------
-- Tenants
-- ---------------------------------------------------------------------------------------------------
INSERT INTO tenants (name, gateway_group, fallback_group, max_calls, max_cps, enabled, attrs) VALUES
    ('vapi-demo',     10, 20, 0, 0, 1, ''),
    ('livekit-demo',  20,  0, 0, 0, 1, ''),
    ('disabled-demo', 10,  0, 0, 0, 0, '')
ON DUPLICATE KEY UPDATE gateway_group = VALUES(gateway_group), fallback_group = VALUES(fallback_group),
    max_calls = VALUES(max_calls), max_cps = VALUES(max_cps), enabled = VALUES(enabled), attrs = VALUES(attrs);

-- ---------------------------------------------------------------------------------------------------
-- DIDs (stored without '+'; 'digits*' = prefix, longest prefix wins, exact beats prefix)
--   4930123456   exact  -> vapi-demo (set 10, fallback 20)
--   4940*        prefix -> vapi-demo
--   4989*        prefix -> vapi-demo, but this DID range uses its own gateway group 20
--   4921*        prefix -> livekit-demo (set 20)
--   4971000000   exact  -> livekit-demo, straight to gateway_uri (no dispatcher)
--   4969000000   exact  -> disabled-demo (tenant disabled: 403)
--   4930999999   exact  -> row disabled (not loaded: 404)
-- ---------------------------------------------------------------------------------------------------
INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, priority, enabled, description)
SELECT d.did, t.id, d.gateway_group, d.gateway_uri, 0, d.enabled, d.description
FROM (
    SELECT '4930123456' AS did, 'vapi-demo' AS tenant, CAST(NULL AS SIGNED) AS gateway_group,
           CAST(NULL AS CHAR(255)) AS gateway_uri, 1 AS enabled, 'demo exact DID' AS description
    UNION ALL SELECT '4940*', 'vapi-demo', NULL, NULL, 1, 'demo prefix'
    UNION ALL SELECT '4989*', 'vapi-demo', 20, NULL, 1, 'demo prefix with its own gateway group'
    UNION ALL SELECT '4921*', 'livekit-demo', NULL, NULL, 1, 'demo prefix'
    UNION ALL SELECT '4971000000', 'livekit-demo', NULL, CONCAT('sip:127.0.3.10:', @sbc_port), 1,
           'demo DID with a fixed gateway URI'
    UNION ALL SELECT '4969000000', 'disabled-demo', NULL, NULL, 1, 'demo DID of a disabled tenant'
    UNION ALL SELECT '4930999999', 'vapi-demo', NULL, NULL, 0, 'demo disabled DID'
) AS d
JOIN tenants t ON t.name = d.tenant
ON DUPLICATE KEY UPDATE tenant_id = VALUES(tenant_id), gateway_group = VALUES(gateway_group),
    gateway_uri = VALUES(gateway_uri), priority = VALUES(priority), enabled = VALUES(enabled),
    description = VALUES(description);
