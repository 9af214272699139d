#!/usr/bin/env bash
# A local certificate authority and a server certificate for the district's Mosquitto broker,
# for a district that has no CA of its own.
#
#   deploy/mosquitto/make-ca.sh DIR HOSTNAME [HOSTNAME|IP ...]
#
# Writes into DIR (created if missing):
#   ca.crt      the CA certificate: give it to the hub (ANBU_MQTT_CA_FILE) and to every device
#   ca.key      the CA's private key: keep it offline; needed only to issue the next server cert
#   server.crt  the broker's certificate, for HOSTNAME (and localhost, 127.0.0.1)
#   server.key  the broker's private key (mode 600; readable by the mosquitto user only)
#
# An existing ca.crt/ca.key in DIR is kept, so running it again renews only the server
# certificate and devices keep trusting the broker. EC P-256 keys; the CA is valid for
# 10 years, the server certificate for 2.
set -euo pipefail

die() { echo "make-ca.sh: $*" >&2; exit 2; }

[[ $# -ge 2 ]] || die "usage: make-ca.sh DIR HOSTNAME [HOSTNAME|IP ...]"
command -v openssl >/dev/null 2>&1 || die "openssl not found (apt-get install -y openssl)"

dir=$1
shift
mkdir -p "${dir}"
umask 077

ca_days=${ANBU_CA_DAYS:-3650}
server_days=${ANBU_SERVER_CERT_DAYS:-730}

if [[ -f "${dir}/ca.crt" && -f "${dir}/ca.key" ]]; then
    echo "make-ca.sh: keeping the existing CA in ${dir}" >&2
elif [[ -f "${dir}/ca.crt" ]]; then
    # The CA's key is kept offline (README): a new CA here would make every provisioned
    # device refuse the broker. Bring the key back for a renewal instead.
    die "${dir}/ca.crt exists but ${dir}/ca.key does not: put the CA's key back to renew the server certificate (a new CA would cut off every device that trusts this one)"
else
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "${dir}/ca.key" -out "${dir}/ca.crt" -days "${ca_days}" -sha256 \
        -subj "/O=Anbu/CN=Anbu local CA ($1)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# subjectAltName: every name and address devices and the hub use to reach the broker.
# Clients check the name against these, never against the CN.
san="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
    if [[ ${name} =~ ^[0-9.]+$ || ${name} == *:* ]]; then
        san="${san},IP:${name}"
    else
        san="${san},DNS:${name}"
    fi
done

extfile=$(mktemp)
trap 'rm -f "${extfile}" "${dir}/server.csr"' EXIT
cat >"${extfile}" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=${san}
EOF

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "${dir}/server.key" -out "${dir}/server.csr" -subj "/O=Anbu/CN=$1" 2>/dev/null
openssl x509 -req -in "${dir}/server.csr" -CA "${dir}/ca.crt" -CAkey "${dir}/ca.key" \
    -CAcreateserial -out "${dir}/server.crt" -days "${server_days}" -sha256 \
    -extfile "${extfile}" 2>/dev/null
chmod 644 "${dir}/ca.crt" "${dir}/server.crt"
chmod 600 "${dir}/ca.key" "${dir}/server.key"

openssl verify -CAfile "${dir}/ca.crt" "${dir}/server.crt" >/dev/null ||
    die "the new server certificate does not verify against ${dir}/ca.crt"
echo "make-ca.sh: CA ${dir}/ca.crt; server certificate ${dir}/server.crt for ${san}" >&2
