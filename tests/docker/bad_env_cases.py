"""Missing or malformed settings and the one line each must produce, shared by the host-side checks of
make test (tests/docker/compose) and the real containers of make docker-test (tests/docker/stack):
(service, variable, value, text of the message). Every other setting is valid."""

CASES = [
    ("kamailio-sbc", "SBC_PUBLIC_IP", "", "SBC_PUBLIC_IP is not set"),
    ("kamailio-sbc", "SBC_PRIVATE_IP", "10.0.0.300", "SBC_PRIVATE_IP='10.0.0.300' is not an IPv4 address"),
    ("kamailio-sbc", "SBC_PRIVATE_IP", "127.0.7.1", "SBC_PRIVATE_IP and SBC_PUBLIC_IP are both 127.0.7.1"),
    ("kamailio-sbc", "SBC_SIP_PORT", "70000", "SBC_SIP_PORT='70000' is not a number from 1 to 65535"),
    ("kamailio-sbc", "SBC_SIP_PORT", "sip", "SBC_SIP_PORT='sip' is not a number from 1 to 65535"),
    ("kamailio-sbc", "SBC_DB_PASSWORD", "", "SBC_DB_PASSWORD is not set"),
    ("kamailio-sbc", "SBC_DB_PASSWORD", "pa'ss\"word", "SBC_DB_PASSWORD must be 8-128 characters"),
    ("kamailio-sbc", "SBC_AGENT_URL", "", "SBC_AGENT_URL is not set"),
    ("kamailio-sbc", "SBC_AGENT_URL", "ftp://10.0.0.20", "SBC_AGENT_URL='ftp://10.0.0.20' is not an http"),
    ("kamailio-sbc", "SBC_TOPOH_KEY", "", "SBC_TOPOH_KEY is not set"),
    ("kamailio-sbc", "SBC_RATING", "maybe", "SBC_RATING='maybe' is not 1 or 0"),
    ("kamailio-sbc", "SBC_MEM_MANAGER", "malloc", "SBC_MEM_MANAGER='malloc' must be one of"),
    ("rtpengine", "SBC_PUBLIC_IP", "", "SBC_PUBLIC_IP is not set"),
    ("rtpengine", "SBC_RTP_PORT_MIN", "43000", "SBC_RTP_PORT_MIN (43000) must be lower than SBC_RTP_PORT_MAX"),
    ("rtpengine", "SBC_RTPENGINE_NG_PORT", "-5", "SBC_RTPENGINE_NG_PORT='-5' is not a number from 1 to 65535"),
    ("mariadb", "SBC_DB_PASSWORD", "short", "SBC_DB_PASSWORD must be 8-128 characters"),
    ("mariadb", "SBC_DB_PORT", "0", "SBC_DB_PORT='0' is not a number from 1 to 65535"),
    ("mariadb", "SBC_DB_NAME", "kam;drop", "SBC_DB_NAME='kam;drop' may hold only letters"),
    ("redis", "SBC_REDIS_PORT", "65536", "SBC_REDIS_PORT='65536' is not a number from 1 to 65535"),
    ("redis", "SBC_REDIS_APPENDFSYNC", "sometimes", "SBC_REDIS_APPENDFSYNC='sometimes' must be one of"),
]

# A valid environment with the addresses and ports of the docker-test stack (tests/docker/docker-test.sh).
VALID_ENV = {
    "SBC_PRIVATE_IP": "127.0.6.1", "SBC_PUBLIC_IP": "127.0.7.1", "SBC_SIP_PORT": "5070",
    "SBC_DB_PORT": "13316", "SBC_DB_PASSWORD": "0123456789abcdef", "SBC_REDIS_PORT": "16389",
    "SBC_REDIS_PASSWORD": "fedcba9876543210", "SBC_RTPENGINE_NG_PORT": "2226",
    "SBC_RTP_PORT_MIN": "42000", "SBC_RTP_PORT_MAX": "42999", "SBC_AGENT_URL": "http://127.0.0.1:18060",
    "SBC_TOPOH_KEY": "00112233445566778899", "SBC_SHM_MB": "128", "SBC_CHILDREN": "2",
}


def case_id(case):
    return "%s-%s=%s" % (case[0], case[1], case[2] or "empty")
