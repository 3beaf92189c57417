-- kamailio-sbc: every table etc/kamailio.cfg uses, for MariaDB 10.11 / MySQL 8, database `kamailio`.
--
-- Load with:   mysql kamailio < sql/kamailio_schema.sql
-- It is idempotent: loading it again (or over a database created by `kamdbctl create`) changes nothing
-- and never fails: tables are CREATE TABLE IF NOT EXISTS, the `version` rows are upserts, the extra
-- CDR columns are ADD COLUMN IF NOT EXISTS, triggers are dropped and recreated. It creates neither the
-- database nor the users (scripts/stack.sh does that).
--
-- Stock Kamailio tables are copied from the Kamailio 5.6 Debian package's own scripts
-- (/usr/share/kamailio/mysql/{standard,dispatcher,permissions,dialog,acc}-create.sql) and carry the
-- `version` rows Kamailio 5.6 checks at startup (a wrong number makes the module refuse to start):
--   version 1, dispatcher 4, address 6, dialog 7, dialog_vars 1, acc 5, missed_calls 4, acc_cdrs 2.
-- Tables the cfg does NOT use (trusted, subscriber, location, ...) are left out on purpose.

SET NAMES utf8mb4;

-- ---------------------------------------------------------------------------------------------------
-- version: Kamailio's table-version registry (standard-create.sql)
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `version` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `table_name` VARCHAR(32) NOT NULL,
    `table_version` INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT table_name_idx UNIQUE (`table_name`)
);

INSERT INTO version (table_name, table_version) VALUES
    ('version', 1),
    ('dispatcher', 4),
    ('address', 6),
    ('dialog', 7),
    ('dialog_vars', 1),
    ('acc', 5),
    ('missed_calls', 4),
    ('acc_cdrs', 2),
    ('tenants', 1),
    ('did_routing', 1),
    ('sbc_routing_version', 1)
ON DUPLICATE KEY UPDATE table_version = VALUES(table_version);

-- ---------------------------------------------------------------------------------------------------
-- dispatcher (dispatcher-create.sql): gateway and carrier groups.
--   setid 1 = carriers (CARRIER_GROUP), other sets = AI gateway groups named by tenants/did_routing.
--   attrs: `weight=N` (algorithm 9, percent of the set's calls) and `socket=udp:<our ip>:<port>`: the
--   socket MUST be one Kamailio listens on, or the dispatcher reload fails (by design: no silent skip).
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `dispatcher` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `setid` INT DEFAULT 0 NOT NULL,
    `destination` VARCHAR(192) DEFAULT '' NOT NULL,
    `flags` INT DEFAULT 0 NOT NULL,
    `priority` INT DEFAULT 0 NOT NULL,
    `attrs` VARCHAR(128) DEFAULT '' NOT NULL,
    `description` VARCHAR(64) DEFAULT '' NOT NULL
);

-- ---------------------------------------------------------------------------------------------------
-- address (permissions-create.sql): source-IP ACL. grp 1 = carriers (ADDR_GRP_CARRIER),
--   grp 2 = AI gateways' real signalling IPs (ADDR_GRP_GATEWAY). port 0 = any source port.
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `address` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `grp` INT(11) UNSIGNED DEFAULT 1 NOT NULL,
    `ip_addr` VARCHAR(50) NOT NULL,
    `mask` INT DEFAULT 32 NOT NULL,
    `port` SMALLINT(5) UNSIGNED DEFAULT 0 NOT NULL,
    `tag` VARCHAR(64)
);

-- ---------------------------------------------------------------------------------------------------
-- dialog, dialog_vars (dialog-create.sql): only written when the cfg runs the dialog module with
--   DLG_DB_MODE != 0 (default 0: dialogs live in shared memory only).
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `dialog` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `hash_entry` INT(10) UNSIGNED NOT NULL,
    `hash_id` INT(10) UNSIGNED NOT NULL,
    `callid` VARCHAR(255) NOT NULL,
    `from_uri` VARCHAR(255) NOT NULL,
    `from_tag` VARCHAR(128) NOT NULL,
    `to_uri` VARCHAR(255) NOT NULL,
    `to_tag` VARCHAR(128) NOT NULL,
    `caller_cseq` VARCHAR(20) NOT NULL,
    `callee_cseq` VARCHAR(20) NOT NULL,
    `caller_route_set` VARCHAR(512),
    `callee_route_set` VARCHAR(512),
    `caller_contact` VARCHAR(255) NOT NULL,
    `callee_contact` VARCHAR(255) NOT NULL,
    `caller_sock` VARCHAR(64) NOT NULL,
    `callee_sock` VARCHAR(64) NOT NULL,
    `state` INT(10) UNSIGNED NOT NULL,
    `start_time` INT(10) UNSIGNED NOT NULL,
    `timeout` INT(10) UNSIGNED DEFAULT 0 NOT NULL,
    `sflags` INT(10) UNSIGNED DEFAULT 0 NOT NULL,
    `iflags` INT(10) UNSIGNED DEFAULT 0 NOT NULL,
    `toroute_name` VARCHAR(32),
    `req_uri` VARCHAR(255) NOT NULL,
    `xdata` VARCHAR(512),
    INDEX hash_idx (`hash_entry`, `hash_id`)
);

CREATE TABLE IF NOT EXISTS `dialog_vars` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `hash_entry` INT(10) UNSIGNED NOT NULL,
    `hash_id` INT(10) UNSIGNED NOT NULL,
    `dialog_key` VARCHAR(128) NOT NULL,
    `dialog_value` VARCHAR(512) NOT NULL,
    INDEX hash_idx (`hash_entry`, `hash_id`)
);

-- ---------------------------------------------------------------------------------------------------
-- acc, missed_calls (acc-create.sql) + the extra columns the cfg writes through acc `db_extra`
--   (tenant, did, gateway, direction, cause, side). Keep them in sync with modparam("acc", "db_extra", ...) in
--   etc/kamailio.cfg: acc fails every insert if a column named there is missing.
--   The ALTERs add the columns to tables that were created earlier by `kamdbctl create`.
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `acc` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `method` VARCHAR(16) DEFAULT '' NOT NULL,
    `from_tag` VARCHAR(128) DEFAULT '' NOT NULL,
    `to_tag` VARCHAR(128) DEFAULT '' NOT NULL,
    `callid` VARCHAR(255) DEFAULT '' NOT NULL,
    `sip_code` VARCHAR(3) DEFAULT '' NOT NULL,
    `sip_reason` VARCHAR(128) DEFAULT '' NOT NULL,
    `time` DATETIME NOT NULL,
    `tenant` VARCHAR(64) DEFAULT '' NOT NULL,
    `did` VARCHAR(64) DEFAULT '' NOT NULL,
    `gateway` VARCHAR(192) DEFAULT '' NOT NULL,
    `direction` VARCHAR(8) DEFAULT '' NOT NULL,
    `cause` VARCHAR(32) DEFAULT '' NOT NULL,
    `side` VARCHAR(8) DEFAULT '' NOT NULL,
    INDEX callid_idx (`callid`)
);
ALTER TABLE `acc`
    ADD COLUMN IF NOT EXISTS `tenant` VARCHAR(64) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `did` VARCHAR(64) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `gateway` VARCHAR(192) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `direction` VARCHAR(8) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `cause` VARCHAR(32) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `side` VARCHAR(8) DEFAULT '' NOT NULL;
CREATE INDEX IF NOT EXISTS tenant_time_idx ON `acc` (`tenant`, `time`);

-- missed_calls has exactly acc's structure (acc-create.sql defines them alike).
CREATE TABLE IF NOT EXISTS `missed_calls` LIKE `acc`;
ALTER TABLE `missed_calls`
    ADD COLUMN IF NOT EXISTS `tenant` VARCHAR(64) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `did` VARCHAR(64) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `gateway` VARCHAR(192) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `direction` VARCHAR(8) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `cause` VARCHAR(32) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `side` VARCHAR(8) DEFAULT '' NOT NULL;
CREATE INDEX IF NOT EXISTS tenant_time_idx ON `missed_calls` (`tenant`, `time`);

-- ---------------------------------------------------------------------------------------------------
-- acc_cdrs: one row per call (acc-create.sql's table + our columns), the table an operator bills from.
--   Written by acc's dialog CDR engine (modparam acc cdrs_table) when a routed call ends: answered
--   (start_time = answer, end_time, duration = talk time in s), rejected, cancelled or not answered
--   (duration 0); and by acc_db_request() for an INVITE the SBC refuses itself (unknown DID, tenant
--   disabled, no gateway...: side 'sbc', start_time/end_time/duration NULL). `time` = INVITE arrival.
--   cause: bye | timeout | cancel | rejected | no-answer | <the SBC's reason, e.g. unknown-did>
--   side:  who ended it: carrier | gateway | sbc
--   The MODIFY makes an acc_cdrs created by `kamdbctl create` (NOT NULL times) take unanswered calls.
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `acc_cdrs` (
    `id` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `start_time` DATETIME NULL DEFAULT NULL,
    `end_time` DATETIME NULL DEFAULT NULL,
    `duration` FLOAT(10,3) NULL DEFAULT NULL,
    `method` VARCHAR(16) DEFAULT 'INVITE' NOT NULL,
    `from_tag` VARCHAR(128) DEFAULT '' NOT NULL,
    `to_tag` VARCHAR(128) DEFAULT '' NOT NULL,
    `callid` VARCHAR(255) DEFAULT '' NOT NULL,
    `sip_code` VARCHAR(3) DEFAULT '' NOT NULL,
    `sip_reason` VARCHAR(128) DEFAULT '' NOT NULL,
    `time` DATETIME NULL DEFAULT NULL,
    `tenant` VARCHAR(64) DEFAULT '' NOT NULL,
    `did` VARCHAR(64) DEFAULT '' NOT NULL,
    `gateway` VARCHAR(192) DEFAULT '' NOT NULL,
    `direction` VARCHAR(8) DEFAULT '' NOT NULL,
    `cause` VARCHAR(32) DEFAULT '' NOT NULL,
    `side` VARCHAR(8) DEFAULT '' NOT NULL,
    INDEX start_time_idx (`start_time`),
    INDEX callid_idx (`callid`)
);
ALTER TABLE `acc_cdrs`
    MODIFY COLUMN `start_time` DATETIME NULL DEFAULT NULL,
    MODIFY COLUMN `end_time` DATETIME NULL DEFAULT NULL,
    MODIFY COLUMN `duration` FLOAT(10,3) NULL DEFAULT NULL,
    ADD COLUMN IF NOT EXISTS `method` VARCHAR(16) DEFAULT 'INVITE' NOT NULL,
    ADD COLUMN IF NOT EXISTS `from_tag` VARCHAR(128) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `to_tag` VARCHAR(128) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `callid` VARCHAR(255) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `sip_code` VARCHAR(3) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `sip_reason` VARCHAR(128) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `time` DATETIME NULL DEFAULT NULL,
    ADD COLUMN IF NOT EXISTS `tenant` VARCHAR(64) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `did` VARCHAR(64) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `gateway` VARCHAR(192) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `direction` VARCHAR(8) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `cause` VARCHAR(32) DEFAULT '' NOT NULL,
    ADD COLUMN IF NOT EXISTS `side` VARCHAR(8) DEFAULT '' NOT NULL;
CREATE INDEX IF NOT EXISTS callid_idx ON `acc_cdrs` (`callid`);
CREATE INDEX IF NOT EXISTS tenant_time_idx ON `acc_cdrs` (`tenant`, `time`);

-- ---------------------------------------------------------------------------------------------------
-- tenants: one row per AI platform customer (read by the sbc_tenant module).
--   gateway_group / fallback_group are dispatcher set ids (fallback 0 = none).
--   max_calls / max_cps: 0 = unlimited. enabled=0: its DIDs are answered 403.
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `tenants` (
    `id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `name` VARCHAR(64) NOT NULL,
    `gateway_group` INT NOT NULL,
    `fallback_group` INT NOT NULL DEFAULT 0,
    `max_calls` INT NOT NULL DEFAULT 0,
    `max_cps` INT NOT NULL DEFAULT 0,
    `enabled` TINYINT(1) NOT NULL DEFAULT 1,
    `attrs` VARCHAR(255) NOT NULL DEFAULT '',
    `created_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `updated_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    CONSTRAINT tenants_name_idx UNIQUE (`name`)
);

-- ---------------------------------------------------------------------------------------------------
-- did_routing: DID -> tenant. Column names (did, gateway_group, gateway_uri) are the prototype's.
--   did: digits only = exact number (e.g. '4930123456'); digits followed by one trailing '*' = prefix
--        (e.g. '4940*' matches every number starting 4940; longest prefix wins, exact beats prefix).
--        Numbers are stored without '+' (the SBC strips one leading '+' before the lookup).
--   gateway_group: NULL = the tenant's; set = this DID's own dispatcher set.
--   gateway_uri:   NULL/'' = use dispatcher; set (e.g. 'sip:10.0.0.5:5060') = send there directly.
--   enabled=0: row not loaded (the DID is "not found" -> 404).
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `did_routing` (
    `id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `did` VARCHAR(64) NOT NULL,
    `tenant_id` INT UNSIGNED NOT NULL,
    `gateway_group` INT NULL DEFAULT NULL,
    `gateway_uri` VARCHAR(255) NULL DEFAULT NULL,
    `priority` INT NOT NULL DEFAULT 0,
    `enabled` TINYINT(1) NOT NULL DEFAULT 1,
    `description` VARCHAR(255) NULL DEFAULT NULL,
    `created_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `updated_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    CONSTRAINT did_routing_did_idx UNIQUE (`did`),
    INDEX did_routing_tenant_idx (`tenant_id`)
);

-- ---------------------------------------------------------------------------------------------------
-- gateway_credentials: digest credentials the SBC answers a gateway's (or carrier's) 401/407 with
--   (etc/kamailio.cfg route[GW_CHALLENGE], setting GW_AUTH). Read when a challenge arrives, never loaded
--   into memory by a module and never logged. The most specific enabled row wins:
--   tenant_id: the call's tenant, else NULL = any tenant (e.g. a carrier's trunk);
--   gateway:   'host:port' of the challenging gateway, else 'host', else '' = any gateway;
--   realm:     the challenge's realm, else '' = any realm.
--   ha1 = 1:   `password` holds MD5(username ":" realm ":" password) instead of the password (the
--              realm column must then be the gateway's realm).
--   Not part of sbc_tenant's index, so no sbc_routing_version trigger: a change applies to the next
--   challenge.
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `gateway_credentials` (
    `id` INT UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    `tenant_id` INT UNSIGNED NULL DEFAULT NULL,
    `gateway` VARCHAR(128) NOT NULL DEFAULT '',
    `realm` VARCHAR(128) NOT NULL DEFAULT '',
    `username` VARCHAR(128) NOT NULL,
    `password` VARCHAR(128) NOT NULL,
    `ha1` TINYINT(1) NOT NULL DEFAULT 0,
    `enabled` TINYINT(1) NOT NULL DEFAULT 1,
    `description` VARCHAR(255) NULL DEFAULT NULL,
    `created_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `updated_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX gateway_credentials_gw_idx (`gateway`, `tenant_id`)
);

-- ---------------------------------------------------------------------------------------------------
-- sbc_routing_version: change tracking for sbc_tenant. A single row (id = 1) whose `version` is bumped
--   by the triggers below on every insert/update/delete of tenants or did_routing; the module polls it
--   and reloads its index when the number changes, so edited rows go live without an explicit reload.
-- ---------------------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS `sbc_routing_version` (
    `id` TINYINT UNSIGNED PRIMARY KEY NOT NULL,
    `version` BIGINT UNSIGNED NOT NULL DEFAULT 0,
    `updated_at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
);
INSERT IGNORE INTO `sbc_routing_version` (`id`, `version`) VALUES (1, 0);

-- Triggers. Each is a single statement, so no DELIMITER juggling is needed and any client or
-- connector can load this file. The upsert recreates the row if someone deleted it.
-- Bulk loads (e.g. a million DIDs) can skip the per-row bump with `SET @sbc_routing_bulk = 1;`
-- in their session, then bump once at the end:
--   UPDATE sbc_routing_version SET version = version + 1 WHERE id = 1;
DROP TRIGGER IF EXISTS `tenants_ai_bump_routing_version`;
CREATE TRIGGER `tenants_ai_bump_routing_version` AFTER INSERT ON `tenants` FOR EACH ROW
    INSERT INTO sbc_routing_version (id, version) SELECT 1, 1 FROM DUAL WHERE @sbc_routing_bulk IS NULL
    ON DUPLICATE KEY UPDATE version = sbc_routing_version.version + 1;

DROP TRIGGER IF EXISTS `tenants_au_bump_routing_version`;
CREATE TRIGGER `tenants_au_bump_routing_version` AFTER UPDATE ON `tenants` FOR EACH ROW
    INSERT INTO sbc_routing_version (id, version) SELECT 1, 1 FROM DUAL WHERE @sbc_routing_bulk IS NULL
    ON DUPLICATE KEY UPDATE version = sbc_routing_version.version + 1;

DROP TRIGGER IF EXISTS `tenants_ad_bump_routing_version`;
CREATE TRIGGER `tenants_ad_bump_routing_version` AFTER DELETE ON `tenants` FOR EACH ROW
    INSERT INTO sbc_routing_version (id, version) SELECT 1, 1 FROM DUAL WHERE @sbc_routing_bulk IS NULL
    ON DUPLICATE KEY UPDATE version = sbc_routing_version.version + 1;

DROP TRIGGER IF EXISTS `did_routing_ai_bump_routing_version`;
CREATE TRIGGER `did_routing_ai_bump_routing_version` AFTER INSERT ON `did_routing` FOR EACH ROW
    INSERT INTO sbc_routing_version (id, version) SELECT 1, 1 FROM DUAL WHERE @sbc_routing_bulk IS NULL
    ON DUPLICATE KEY UPDATE version = sbc_routing_version.version + 1;

DROP TRIGGER IF EXISTS `did_routing_au_bump_routing_version`;
CREATE TRIGGER `did_routing_au_bump_routing_version` AFTER UPDATE ON `did_routing` FOR EACH ROW
    INSERT INTO sbc_routing_version (id, version) SELECT 1, 1 FROM DUAL WHERE @sbc_routing_bulk IS NULL
    ON DUPLICATE KEY UPDATE version = sbc_routing_version.version + 1;

DROP TRIGGER IF EXISTS `did_routing_ad_bump_routing_version`;
CREATE TRIGGER `did_routing_ad_bump_routing_version` AFTER DELETE ON `did_routing` FOR EACH ROW
    INSERT INTO sbc_routing_version (id, version) SELECT 1, 1 FROM DUAL WHERE @sbc_routing_bulk IS NULL
    ON DUPLICATE KEY UPDATE version = sbc_routing_version.version + 1;
