-- kamailio-sbc SIPp suite: routing data of the test stack (loaded by scripts/stack.sh after
-- sql/kamailio_schema.sql, with @SIP_PORT@ replaced by the test SIP port). The suite's expectations
-- (tests/sipp/test_*.py, tests/sipp/harness.py) are written against exactly these rows.
-- Idempotent: rows are keyed on their natural keys and replaced, other rows are left alone.
--
-- Loopback topology (DESIGN.md section 6): SBC private side 127.0.1.1, public side 127.0.2.1, port
-- @SIP_PORT@. Every SIPp peer listens on port 5060 of its own IP:
--   carrier                127.0.1.10   uas_answer (and the caller of inbound calls, from port 5070+)
--   broken carrier         127.0.1.12   uas_503 (known carrier, not in set 1: named by the rating agent)
--   alpha gateway a        127.0.2.10   uas_answer, weight 80
--   alpha gateway b        127.0.2.11   uas_answer, weight 20
--   broken gateway         127.0.2.12   uas_503 (first choice of tenant gamma)
--   beta gateway           127.0.3.10   uas_answer
--   fallback gateway       127.0.3.11   uas_answer (group 30: fallback of alpha and beta)
--   ringing gateway        127.0.3.12   uas_ring_noanswer (tenant delta: for CANCEL)
-- Unlisted sources used by the ACL tests: 127.0.1.99 (private side), 127.0.2.99 (public side).

-- ---------------------------------------------------------------------------------------------------
-- Source-IP ACL: group 1 = carriers, group 2 = AI gateways. port 0 = any source port.
-- ---------------------------------------------------------------------------------------------------
DELETE FROM address WHERE (grp = 1 AND ip_addr IN ('127.0.1.10', '127.0.1.12'))
    OR (grp = 2 AND ip_addr IN ('127.0.2.10', '127.0.2.11', '127.0.2.12',
                                '127.0.3.10', '127.0.3.11', '127.0.3.12'));
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES
    (1, '127.0.1.10', 32, 0, 'test carrier'),
    (1, '127.0.1.12', 32, 0, 'test carrier broken (503)'),
    (2, '127.0.2.10', 32, 0, 'test gateway alpha-a'),
    (2, '127.0.2.11', 32, 0, 'test gateway alpha-b'),
    (2, '127.0.2.12', 32, 0, 'test gateway broken (503)'),
    (2, '127.0.3.10', 32, 0, 'test gateway beta'),
    (2, '127.0.3.11', 32, 0, 'test gateway fallback'),
    (2, '127.0.3.12', 32, 0, 'test gateway ringing');

-- ---------------------------------------------------------------------------------------------------
-- Dispatcher (algorithm 9: weights from attrs; socket = the SBC socket facing that peer).
-- Higher priority comes first in a set, so ds_next_dst() walks set 40 from 127.0.2.12 to 127.0.2.10.
-- Weights above a total of 100 get no slot of their own (dispatcher fills 100 slots in list order):
-- set 40 therefore always starts with 127.0.2.12.
-- ---------------------------------------------------------------------------------------------------
DELETE FROM dispatcher WHERE setid IN (1, 10, 20, 30, 40, 50)
    AND SUBSTRING_INDEX(destination, ':', 2) IN ('sip:127.0.1.10', 'sip:127.0.2.10', 'sip:127.0.2.11',
        'sip:127.0.2.12', 'sip:127.0.3.10', 'sip:127.0.3.11', 'sip:127.0.3.12');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES
    (1,  'sip:127.0.1.10:5060', 0, 0, 'socket=udp:127.0.1.1:@SIP_PORT@', 'test carrier'),
    (10, 'sip:127.0.2.10:5060', 0, 0, 'weight=80;socket=udp:127.0.2.1:@SIP_PORT@', 'alpha gateway a'),
    (10, 'sip:127.0.2.11:5060', 0, 0, 'weight=20;socket=udp:127.0.2.1:@SIP_PORT@', 'alpha gateway b'),
    (20, 'sip:127.0.3.10:5060', 0, 0, 'weight=100;socket=udp:127.0.2.1:@SIP_PORT@', 'beta gateway'),
    (30, 'sip:127.0.3.11:5060', 0, 0, 'weight=100;socket=udp:127.0.2.1:@SIP_PORT@', 'fallback gateway'),
    (40, 'sip:127.0.2.12:5060', 0, 10, 'weight=100;socket=udp:127.0.2.1:@SIP_PORT@', 'gamma first (503)'),
    (40, 'sip:127.0.2.10:5060', 0, 5, 'weight=100;socket=udp:127.0.2.1:@SIP_PORT@', 'gamma second'),
    (50, 'sip:127.0.3.12:5060', 0, 0, 'weight=100;socket=udp:127.0.2.1:@SIP_PORT@', 'delta ringing gateway');

-- ---------------------------------------------------------------------------------------------------
-- Tenants
-- ---------------------------------------------------------------------------------------------------
INSERT INTO tenants (name, gateway_group, fallback_group, max_calls, max_cps, enabled, attrs) VALUES
    ('alpha', 10, 30, 0, 0, 1, ''),
    ('beta',  20, 30, 0, 0, 1, ''),
    ('gamma', 40,  0, 0, 0, 1, ''),
    ('delta', 50,  0, 0, 0, 1, ''),
    ('omega', 10,  0, 0, 0, 0, '')
ON DUPLICATE KEY UPDATE gateway_group = VALUES(gateway_group), fallback_group = VALUES(fallback_group),
    max_calls = VALUES(max_calls), max_cps = VALUES(max_cps), enabled = VALUES(enabled), attrs = VALUES(attrs);

-- ---------------------------------------------------------------------------------------------------
-- DIDs (no '+'; 'digits*' = prefix; exact beats prefix; longest prefix wins)
--   4930100001  exact   -> alpha
--   4930555000  exact   -> alpha   (would be beta by prefix 4930*: exact wins)
--   4930*       prefix  -> beta    (e.g. 4930200002)
--   49301*      prefix  -> alpha   (e.g. 4930123456: longer than 4930*)
--   493019*     prefix  -> beta    (e.g. 4930191111: longer than 49301*)
--   4940100001  exact   -> gamma   (failover 127.0.2.12 -> 127.0.2.10)
--   4950100001  exact   -> delta   (rings, never answers)
--   4960100001  exact   -> omega   (tenant disabled: 403)
--   4970100001  exact, row disabled (not loaded: 404)
-- ---------------------------------------------------------------------------------------------------
DELETE FROM did_routing WHERE did IN ('4930100001', '4930555000', '4930*', '49301*', '493019*',
    '4940100001', '4950100001', '4960100001', '4970100001');
INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, priority, enabled, description)
SELECT d.did, t.id, NULL, NULL, 0, d.enabled, d.description
FROM (
    SELECT '4930100001' AS did, 'alpha' AS tenant, 1 AS enabled, 'test exact' AS description
    UNION ALL SELECT '4930555000', 'alpha', 1, 'test exact beats prefix 4930*'
    UNION ALL SELECT '4930*',      'beta',  1, 'test short prefix'
    UNION ALL SELECT '49301*',     'alpha', 1, 'test longer prefix'
    UNION ALL SELECT '493019*',    'beta',  1, 'test longest prefix'
    UNION ALL SELECT '4940100001', 'gamma', 1, 'test failover'
    UNION ALL SELECT '4950100001', 'delta', 1, 'test ringing, no answer'
    UNION ALL SELECT '4960100001', 'omega', 1, 'test tenant disabled'
    UNION ALL SELECT '4970100001', 'alpha', 0, 'test row disabled'
) AS d
JOIN tenants t ON t.name = d.tenant;
