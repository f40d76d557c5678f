#!/bin/sh
# Regenerates the Fulcio-like test certificates (OpenSSL 3): a root CA, an
# intermediate, leaves with Fulcio's OIDC issuer extension (raw bytes, as
# Fulcio writes it), an e-mail SAN and the code-signing EKU, and a CA that
# signed none of them. Private keys are not kept, except the leaves' (the
# unit tests sign with them). The tests take their times from the
# certificates, so a later run of this script keeps them passing.
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
issuer_hex=$(printf '%s' https://issuer.example.com | od -An -tx1 | tr -s ' \n' ':' | sed 's/^://;s/:$//')
cat >"$t/ext.cnf" <<CNF
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = codeSigning
subjectAltName = critical,email:signer@example.com
1.3.6.1.4.1.57264.1.1 = DER:$issuer_hex
CNF
key "$t/ca.key"
openssl req -x509 -new -key "$t/ca.key" -subj /O=hutch-test/CN=test-fulcio-root -days 7300 \
    -config "$t/ext.cnf" -extensions ca -out ca.pem
key "$t/other.key"
openssl req -x509 -new -key "$t/other.key" -subj /O=hutch-test/CN=test-fulcio-root -days 7300 \
    -config "$t/ext.cnf" -extensions ca -out other-ca.pem
key "$t/inter.key"
openssl req -new -key "$t/inter.key" -subj /O=hutch-test/CN=test-fulcio-intermediate -out "$t/inter.csr"
openssl x509 -req -in "$t/inter.csr" -CA ca.pem -CAkey "$t/ca.key" -CAcreateserial -days 7300 \
    -extfile "$t/ext.cnf" -extensions ca -out inter.pem 2>/dev/null
key leaf.key
openssl req -new -key leaf.key -subj / -out "$t/leaf.csr" 2>/dev/null || \
    openssl req -new -key leaf.key -subj /O=sigstore.dev -out "$t/leaf.csr"
openssl x509 -req -in "$t/leaf.csr" -CA ca.pem -CAkey "$t/ca.key" -CAcreateserial -days 1 \
    -extfile "$t/ext.cnf" -extensions leaf -out leaf.pem 2>/dev/null
openssl x509 -req -in "$t/leaf.csr" -CA inter.pem -CAkey "$t/inter.key" -CAcreateserial -days 1 \
    -extfile "$t/ext.cnf" -extensions leaf -out leaf-via-inter.pem 2>/dev/null
rm -f ./*.srl
