-- make bench: routing data of the bench stack (loaded by scripts/stack.sh after sql/kamailio_schema.sql,
-- @SIP_PORT@ replaced by the SIP port). Every setup reads the same rows:
--   carrier (caller)       127.0.8.10   address group 1
--   AI gateway (callee)    127.0.10.10:5060, dispatcher set 10, address group 2
--   tenant "bench": 10,000 exact DIDs 4930100000 .. 4930109999, each row naming group 10 itself
--   (the prototype-style baseline reads gateway_group straight from did_routing, as the prototype did).
-- SBC sockets: private 127.0.8.1, public 127.0.10.1 (bench/load/bench_load.py).

DELETE FROM address;
INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES
    (1, '127.0.8.10', 32, 0, 'bench carrier'),
    (2, '127.0.10.10', 32, 0, 'bench gateway');

DELETE FROM dispatcher;
INSERT INTO dispatcher (setid, destination, flags, priority, attrs, description) VALUES
    (10, 'sip:127.0.10.10:5060', 0, 0, 'weight=100;socket=udp:127.0.10.1:@SIP_PORT@', 'bench gateway');

SET @sbc_routing_bulk = 1;
DELETE FROM did_routing;
DELETE FROM tenants;
INSERT INTO tenants (id, name, gateway_group, fallback_group, max_calls, max_cps, enabled, attrs)
    VALUES (1, 'bench', 10, 0, 0, 0, 1, '');
INSERT INTO did_routing (did, tenant_id, gateway_group, gateway_uri, priority, enabled, description)
    SELECT CONCAT('49301', LPAD(seq, 5, '0')), 1, 10, NULL, 0, 1, 'bench'
    FROM seq_0_to_9999;
SET @sbc_routing_bulk = NULL;
UPDATE sbc_routing_version SET version = version + 1 WHERE id = 1;
