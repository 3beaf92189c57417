-- kamailio-sbc cluster tests (tests/cluster): routing data shared by both nodes (loaded by
-- scripts/cluster.sh through scripts/stack.sh start-services, @SIP_PORT@ replaced by the SIP port).
-- Idempotent: rows are keyed on their natural keys and replaced, other rows are left alone.
--
-- Loopback topology (scripts/cluster.sh defaults):
--   node a: private 127.0.11.1, public 127.0.12.1, port @SIP_PORT@ (DMQ on 127.0.11.1:5087)
--   node b: private 127.0.11.2, public 127.0.12.2, port @SIP_PORT@ (DMQ on 127.0.11.2:5087)
--   rtpengine (shared): internal 127.0.11.5, external 127.0.12.5
--   carrier   127.0.11.10:5060  uas_answer; calls from 127.0.11.10:5070+
--   gateways  127.0.12.10, 127.0.12.11 :5060 (set 10), 127.0.12.12 :5060 (set 20), uas_answer
-- Dispatcher rows name the sending socket by name (sockname=), not by address: the same row then works
-- on every node (a socket= address would exist on one node only, and ds_load_mode 1 refuses the load).
-- The cluster rows of `address` (group 3, the nodes' DMQ addresses) are written by scripts/cluster.sh.

DELETE FROM address WHERE (grp = 1 AND ip_addr = '127.0.11.10')
    OR (grp = 2 AND ip_addr IN ('127.0.12.10', '127.0.12.11', '127.0.12.12'));
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES
    (1, '127.0.11.10', 32, 0, 'cluster test carrier'),
    (2, '127.0.12.10', 32, 0, 'cluster test gateway 10a'),
    (2, '127.0.12.11', 32, 0, 'cluster test gateway 10b'),
    (2, '127.0.12.12', 32, 0, 'cluster test gateway 20');

DELETE FROM dispatcher WHERE setid IN (1, 10, 20)
    AND SUBSTRING_INDEX(destination, ':', 2) IN ('sip:127.0.11.10', 'sip:127.0.12.10', 'sip:127.0.12.11',
        'sip:127.0.12.12');
INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES
    (1,  'sip:127.0.11.10:5060', 0, 0, 'weight=100;sockname=private_udp', 'cluster test carrier'),
    (10, 'sip:127.0.12.10:5060', 0, 0, 'weight=50;sockname=public_udp', 'cluster gateway 10a'),
    (10, 'sip:127.0.12.11:5060', 0, 0, 'weight=50;sockname=public_udp', 'cluster gateway 10b'),
    (20, 'sip:127.0.12.12:5060', 0, 0, 'weight=100;sockname=public_udp', 'cluster gateway 20');

-- Tenants: open (no limits), calls4 (max_calls 4), cps5 (max_cps 5).
INSERT INTO tenants (name, gateway_group, fallback_group, max_calls, max_cps, enabled, attrs) VALUES
    ('cl-open',   10, 0, 0, 0, 1, ''),
    ('cl-calls4', 10, 0, 4, 0, 1, ''),
    ('cl-cps5',   10, 0, 0, 5, 1, '')
ON DUPLICATE KEY UPDATE gateway_group = VALUES(gateway_group), fallback_group = VALUES(fallback_group),
    max_calls = VALUES(max_calls), max_cps = VALUES(max_cps), enabled = VALUES(enabled), attrs = VALUES(attrs);

--   4910000001  cl-open     4910000004  cl-calls4     4910000005  cl-cps5
DELETE FROM did_routing WHERE did IN ('4910000001', '4910000004', '4910000005');
INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, priority, enabled, description)
SELECT d.did, t.id, NULL, NULL, 0, 1, d.description
FROM (
    SELECT '4910000001' AS did, 'cl-open' AS tenant, 'cluster open tenant' AS description
    UNION ALL SELECT '4910000004', 'cl-calls4', 'cluster max_calls 4'
    UNION ALL SELECT '4910000005', 'cl-cps5',   'cluster max_cps 5'
) AS d
JOIN tenants t ON t.name = d.tenant;
