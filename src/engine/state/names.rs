//! Container and volume names: Podman's validity rule, and generated
//! `adjective_surname` names for containers created without `--name`, as
//! Docker's and Podman's namesgenerator make them. Also fresh 64-hex IDs.

use std::hash::{BuildHasher, Hasher};
use std::io::Read;

use super::StateError;

/// Podman's `define.NameRegex`, spelled out for error messages.
pub const NAME_RULE: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]*";

/// Checks a name against [`NAME_RULE`]; `kind` ("container", "volume")
/// goes into the error.
pub fn validate(kind: &'static str, name: &str) -> Result<(), StateError> {
    if crate::spec::parse::name::is_valid(name) {
        Ok(())
    } else {
        Err(StateError::InvalidName {
            kind,
            name: name.to_string(),
        })
    }
}

/// True for a full ID: 64 lowercase hex digits, the only form stored.
pub fn is_full_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(super) fn check_id(kind: &'static str, id: &str) -> Result<(), StateError> {
    if is_full_id(id) {
        Ok(())
    } else {
        Err(StateError::InvalidId {
            kind,
            id: id.to_string(),
        })
    }
}

/// A fresh random 64-hex ID from the kernel's generator.
pub fn generate_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

const ADJECTIVES: &[&str] = &[
    "admiring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const SURNAMES: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "archimedes",
    "babbage",
    "bardeen",
    "bartik",
    "bell",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "brahmagupta",
    "brattain",
    "burnell",
    "carson",
    "cerf",
    "chandrasekhar",
    "clarke",
    "curie",
    "darwin",
    "diffie",
    "dijkstra",
    "easley",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gauss",
    "goldberg",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hopper",
    "hypatia",
    "jemison",
    "johnson",
    "kalam",
    "kepler",
    "knuth",
    "kowalevski",
    "lamarr",
    "lamport",
    "leakey",
    "lovelace",
    "lumiere",
    "mccarthy",
    "meitner",
    "mendel",
    "mirzakhani",
    "morse",
    "napier",
    "newton",
    "noether",
    "pascal",
    "pasteur",
    "perlman",
    "pike",
    "poincare",
    "ritchie",
    "shannon",
    "shaw",
    "sinoussi",
    "stallman",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "wiles",
    "williams",
    "wozniak",
    "wright",
    "yalow",
];

/// A random number without a dependency: std's `RandomState` keys SipHash
/// from the OS generator once per thread and steps the key on every call,
/// which is plenty for picking names.
pub(super) fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

fn pick<'a>(list: &[&'a str]) -> &'a str {
    list[(random_u64() % list.len() as u64) as usize]
}

/// One `adjective_surname` name; may be taken already.
pub fn generate() -> String {
    let adjective = pick(ADJECTIVES);
    let mut surname = pick(SURNAMES);
    // Docker's one exception, kept for the joke's sake: Wozniak is not boring.
    while adjective == "boring" && surname == "wozniak" {
        surname = pick(SURNAMES);
    }
    format!("{adjective}_{surname}")
}

/// Tries generated names until `is_free` accepts one. After a few plain
/// collisions a number is appended (Docker does the same), so a host with
/// thousands of containers still finds a name quickly.
pub(super) fn generate_free(
    mut is_free: impl FnMut(&str) -> Result<bool, StateError>,
) -> Result<String, StateError> {
    const PLAIN_TRIES: u32 = 10;
    const TRIES: u32 = 1000;
    for attempt in 0..TRIES {
        let mut name = generate();
        if attempt >= PLAIN_TRIES {
            name.push_str(&(random_u64() % 10_000).to_string());
        }
        if is_free(&name)? {
            return Ok(name);
        }
    }
    Err(StateError::NoFreeName { attempts: TRIES })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_name_rule() {
        for ok in ["a", "web", "Web-1", "my_app.v2", "0abc", "a-"] {
            validate("container", ok).unwrap();
        }
        for bad in ["", "-a", "_a", ".a", "a b", "a/b", "é", "a:b", "../x"] {
            let err = validate("container", bad).unwrap_err().to_string();
            assert!(err.contains(NAME_RULE), "{bad:?}: {err}");
            assert!(err.contains("container"), "{err}");
        }
    }

    #[test]
    fn generated_names_are_valid_and_vary() {
        let names: std::collections::HashSet<String> = (0..200).map(|_| generate()).collect();
        assert!(names.len() > 100, "only {} distinct names", names.len());
        for n in &names {
            validate("container", n).unwrap();
            assert_eq!(n.matches('_').count(), 1, "{n}");
        }
        assert!(ADJECTIVES.len() >= 50 && SURNAMES.len() >= 50);
    }

    #[test]
    fn collisions_retry_then_append_a_number() {
        let mut calls = 0;
        let name = generate_free(|_| {
            calls += 1;
            Ok(calls > 12)
        })
        .unwrap();
        assert!(name.ends_with(|c: char| c.is_ascii_digit()), "{name}");
        let err = generate_free(|_| Ok(false)).unwrap_err();
        assert!(matches!(err, StateError::NoFreeName { attempts: 1000 }));
    }

    #[test]
    fn ids() {
        let id = generate_id().unwrap();
        assert!(is_full_id(&id), "{id}");
        assert_ne!(id, generate_id().unwrap());
        assert!(!is_full_id(&id.to_uppercase()));
        assert!(!is_full_id(&id[..63]));
        assert!(check_id("container", "../../etc").is_err());
    }
}
