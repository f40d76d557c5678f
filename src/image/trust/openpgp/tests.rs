//! Signatures and keys made by gpg 2.2.40 (testdata/): an Ed25519 key
//! exported armored, an RSA 2048 key exported binary, and the same payload
//! signed by each (`gpg --sign`; ZIP-compressed, `-z 0`, `--armor`,
//! SHA-512, SHA-1).

use super::*;

const ED_KEY: &[u8] = include_bytes!("testdata/ed.asc");
const RSA_KEY: &[u8] = include_bytes!("testdata/rsa.gpg");
const PAYLOAD: &[u8] = include_bytes!("testdata/payload");
const NOW: u64 = 1_800_000_000;

fn ring(keys: &[&[u8]]) -> Keyring {
    let mut k = Keyring::default();
    for key in keys {
        k.add(key).unwrap();
    }
    k
}

#[test]
fn gpg_signatures_verify_with_their_key_only() {
    let ed = ring(&[ED_KEY]);
    let rsa = ring(&[RSA_KEY]);
    let both = ring(&[ED_KEY, RSA_KEY]);
    assert_eq!(ed.keys.len(), 1);
    for (sig, good) in [
        (&include_bytes!("testdata/ed.sig")[..], &ed),
        (&include_bytes!("testdata/ed-plain.sig")[..], &ed),
        (&include_bytes!("testdata/ed.sig.asc")[..], &ed),
        (&include_bytes!("testdata/rsa.sig")[..], &rsa),
    ] {
        let v = verify(good, sig, NOW).unwrap();
        assert_eq!(v.content, PAYLOAD);
        assert_eq!(v.signer.len(), 40, "{}", v.signer);
        assert_eq!(verify(&both, sig, NOW).unwrap().content, PAYLOAD);
        let other = if std::ptr::eq(good, &ed) { &rsa } else { &ed };
        assert!(matches!(verify(other, sig, NOW), Err(PgpError::NoKey(_))));
    }
    let e = verify(&rsa, include_bytes!("testdata/rsa-sha1.sig"), NOW).unwrap_err();
    assert!(e.to_string().contains("SHA-1"), "{e}");
}

#[test]
fn tampered_content_does_not_verify() {
    let ed = ring(&[ED_KEY]);
    // The uncompressed signature holds the payload in the clear: change
    // one byte of it.
    let mut sig = include_bytes!("testdata/ed-plain.sig").to_vec();
    let at = sig
        .windows(8)
        .position(|w| w == b"r.io/a:1")
        .expect("payload in the clear");
    sig[at + 7] = b'2';
    assert!(matches!(verify(&ed, &sig, NOW), Err(PgpError::NoKey(_))));
}

#[test]
fn garbage_is_an_error() {
    let ed = ring(&[ED_KEY]);
    for input in [
        &b""[..],
        b"\x00",
        b"\xff\xff\xff",
        b"-----BEGIN PGP MESSAGE-----\n",
        PAYLOAD,
    ] {
        assert!(verify(&ed, input, NOW).is_err());
    }
    let mut k = Keyring::default();
    assert!(k.add(b"\x99\x00\x05\x04").is_err());
    k.add(PAYLOAD).unwrap_err();
}

/// gpg 2.2.40 keys (testdata/): `expired.asc` made with
/// `--faked-system-time 20200101T000000` to expire after a day, its
/// `expired.sig` made an hour in; `revoked.asc` exported after importing
/// the revocation certificate gpg made with it, `revoked.sig` made before.
#[test]
fn expired_and_revoked_keys_refuse_with_a_message() {
    let expired = ring(&[include_bytes!("testdata/expired.asc")]);
    assert_eq!(expired.keys.len(), 1);
    let created = 1_577_836_800; // 2020-01-01
    assert_eq!(expired.keys[0].expires, Some(created + 86_400));
    let sig = include_bytes!("testdata/expired.sig");
    // Before the key expired it verifies; after, it is refused.
    assert_eq!(
        verify(&expired, sig, created + 3_600).unwrap().content,
        PAYLOAD
    );
    let e = verify(&expired, sig, NOW).unwrap_err();
    assert!(matches!(e, PgpError::KeyExpired(..)), "{e}");
    assert!(
        e.to_string()
            .ends_with("that made the signature expired at 2020-01-02T00:00:00Z"),
        "{e}"
    );

    let revoked = ring(&[include_bytes!("testdata/revoked.asc")]);
    assert!(revoked.keys[0].revoked.is_some());
    let e = verify(&revoked, include_bytes!("testdata/revoked.sig"), NOW).unwrap_err();
    assert!(matches!(e, PgpError::KeyRevoked(..)), "{e}");
    assert!(
        e.to_string().contains("that made the signature is revoked"),
        "{e}"
    );
    // The keys of the older fixtures neither expire nor are revoked.
    let ed = ring(&[ED_KEY, RSA_KEY]);
    assert!(
        ed.keys
            .iter()
            .all(|k| k.expires.is_none() && k.revoked.is_none())
    );
}

#[test]
fn a_forged_revocation_is_ignored() {
    // The revocation signature of one key appended after another key does
    // not verify with that key, so it revokes nothing.
    let revoked = packet::dearmor(include_bytes!("testdata/revoked.asc")).unwrap();
    let revocation: Vec<u8> = Packets::new(&revoked)
        .map(Result::unwrap)
        .filter(|p| p.tag == packet::TAG_SIGNATURE && p.body.get(1) == Some(&0x20))
        .map(|p| {
            let mut out = vec![0xc2, 0xff];
            out.extend_from_slice(&(p.body.len() as u32).to_be_bytes());
            out.extend_from_slice(&p.body);
            out
        })
        .next()
        .expect("a key revocation signature");
    let mut ed = packet::dearmor(ED_KEY).unwrap();
    ed.extend_from_slice(&revocation);
    let k = ring(&[&ed]);
    assert!(k.keys[0].revoked.is_none());
    verify(&k, include_bytes!("testdata/ed.sig"), NOW).unwrap();
}
