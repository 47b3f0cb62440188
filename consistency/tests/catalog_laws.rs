//! The namespace catalog's merge laws and its conflict rules: nodes that changed the catalog
//! concurrently end with identical catalogs, and answer "which namespace is db n" alike,
//! whatever order and grouping the catalogs were exchanged in.
#![allow(clippy::unwrap_used)]

use kvorum_consistency::catalog::{Catalog, CatalogError, Conflict, NamespaceDef, Stamp};
use kvorum_consistency::{NamespacePolicy, Timestamp};
use kvorum_ring::{NamespaceId, NodeId};
use proptest::prelude::*;

const NAMES: [&str; 4] = ["sessions", "accounts", "carts", "default"];

fn stamp(t: u64, node: u64) -> Stamp {
    Stamp {
        at: Timestamp {
            physical_ms: t,
            logical: 0,
        },
        node: NodeId(node),
    }
}

fn def(db: Option<u32>) -> NamespaceDef {
    NamespaceDef {
        id: NamespaceId::DEFAULT,
        db,
        policy: NamespacePolicy::new(3),
        ttl_s: None,
        created: stamp(0, 0),
    }
}

/// One step of a history: node `node` creates, alters or drops a name, or merges what another
/// node holds.
#[derive(Clone, Debug)]
enum Step {
    Create {
        node: usize,
        name: usize,
        db: u32,
    },
    Alter {
        node: usize,
        name: usize,
        min_w: usize,
    },
    Drop {
        node: usize,
        name: usize,
    },
    Merge {
        node: usize,
        from: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..4usize, 0..4u32).prop_map(|(node, name, db)| Step::Create {
            node,
            name,
            db
        }),
        (0..3usize, 0..4usize, 1..4usize).prop_map(|(node, name, min_w)| Step::Alter {
            node,
            name,
            min_w
        }),
        (0..3usize, 0..4usize).prop_map(|(node, name)| Step::Drop { node, name }),
        (0..3usize, 0..3usize).prop_map(|(node, from)| Step::Merge { node, from }),
    ]
}

/// Runs a history on three nodes; every change gets a unique stamp later than anything its
/// node has seen (as an HLC guarantees).
fn run(steps: &[Step]) -> Vec<Catalog> {
    let mut nodes = vec![Catalog::new(); 3];
    for (t, step) in steps.iter().enumerate() {
        let t = t as u64 + 1;
        match *step {
            Step::Create { node, name, db } => {
                let db = (db > 0).then_some(db);
                let _ = nodes[node].create(NAMES[name], def(db), stamp(t, node as u64));
            }
            Step::Alter { node, name, min_w } => {
                let base = def(Some(0));
                let _ = nodes[node].alter(NAMES[name], Some(&base), stamp(t, node as u64), |d| {
                    d.policy.min_w = min_w
                });
            }
            Step::Drop { node, name } => {
                let _ = nodes[node].drop_namespace(NAMES[name], stamp(t, node as u64));
            }
            Step::Merge { node, from } => {
                let other = nodes[from].clone();
                nodes[node].merge(&other);
            }
        }
    }
    nodes
}

fn merged(a: &Catalog, b: &Catalog) -> Catalog {
    let mut out = a.clone();
    out.merge(b);
    out
}

/// Live namespaces as `(name, id, db, usable)`, and the ids to purge.
type Answers = (
    Vec<(String, NamespaceId, Option<u32>, bool)>,
    Vec<NamespaceId>,
);

/// What a reader derives from a catalog: namespaces with their db and usability, and the ids
/// to purge.
fn answers(c: &Catalog) -> Answers {
    (
        c.resolved()
            .iter()
            .map(|r| (r.name.to_owned(), r.def.id, r.db, r.usable))
            .collect(),
        c.retired_ids().into_iter().collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn merge_is_commutative_associative_and_idempotent(steps in prop::collection::vec(step(), 0..40)) {
        let nodes = run(&steps);
        let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(merged(a, a), a.clone());
        let ab = merged(a, b);
        prop_assert_eq!(merged(&ab, b), ab);
    }

    #[test]
    fn every_node_ends_identical_and_answers_alike(
        steps in prop::collection::vec(step(), 0..40),
        order in Just([0usize, 1, 2]).prop_shuffle(),
    ) {
        let mut nodes = run(&steps);
        // Node `order[0]` hears from the others in one order, then everyone hears from it.
        let first = order[0];
        for &other in &order[1..] {
            let theirs = nodes[other].clone();
            nodes[first].merge(&theirs);
        }
        let full = nodes[first].clone();
        for node in nodes.iter_mut() {
            node.merge(&full);
        }
        prop_assert_eq!(&nodes[0], &nodes[1]);
        prop_assert_eq!(&nodes[1], &nodes[2]);
        prop_assert_eq!(nodes[0].digest(), nodes[2].digest());
        prop_assert_eq!(answers(&nodes[0]), answers(&nodes[2]));
        // No live namespace's data is ever scheduled for deletion.
        let (live, retired) = answers(&nodes[0]);
        for (_, id, _, _) in live {
            prop_assert!(!retired.contains(&id));
        }
        // A catalog survives its encoding.
        prop_assert_eq!(Catalog::decode(&nodes[0].encode()).unwrap(), nodes[0].clone());
    }
}

#[test]
fn concurrent_creates_of_one_db_leave_it_to_the_earlier_everywhere() {
    let mut a = Catalog::new();
    let mut b = Catalog::new();
    a.create("sessions", def(Some(1)), stamp(10, 1)).unwrap();
    b.create("carts", def(Some(1)), stamp(11, 2)).unwrap();
    let (ab, ba) = (merged(&a, &b), merged(&b, &a));
    assert_eq!(ab, ba);
    assert_eq!(ab.db_owner(1).unwrap().0, "sessions");
    let carts = ab
        .resolved()
        .into_iter()
        .find(|r| r.name == "carts")
        .unwrap();
    assert_eq!(carts.db, None, "the later create keeps no db index");
    assert!(carts.usable, "but stays usable by name");
    assert_eq!(
        ab.conflicts(),
        vec![Conflict::Db {
            db: 1,
            owner: "sessions".into(),
            loser: "carts".into()
        }]
    );
    // Locally, a taken db is refused outright.
    assert_eq!(
        a.create("other", def(Some(1)), stamp(12, 1)),
        Err(CatalogError::DbTaken {
            db: 1,
            owner: "sessions".into()
        })
    );
}

#[test]
fn concurrent_creates_of_one_name_keep_the_later_and_retire_the_other_id() {
    let mut a = Catalog::new();
    let mut b = Catalog::new();
    let first = a.create("sessions", def(None), stamp(10, 1)).unwrap();
    let second = b.create("sessions", def(None), stamp(10, 2)).unwrap();
    assert_ne!(first, second);
    let ab = merged(&a, &b);
    assert_eq!(ab.get("sessions").unwrap().id, second);
    assert!(
        ab.retired_ids().contains(&first),
        "the loser's data is purged"
    );
    assert_eq!(ab, merged(&b, &a));
}

#[test]
fn a_drop_survives_an_older_copy_and_a_new_create_gets_a_new_id() {
    let mut a = Catalog::new();
    let old = a.create("carts", def(Some(2)), stamp(1, 1)).unwrap();
    let before_drop = a.clone();
    assert_eq!(a.drop_namespace("carts", stamp(2, 1)), Ok(old));
    a.merge(&before_drop);
    assert!(
        a.get("carts").is_none(),
        "an older copy does not bring it back"
    );
    assert!(a.retired_ids().contains(&old));
    let new = a.create("carts", def(Some(2)), stamp(3, 1)).unwrap();
    assert_ne!(new, old, "a recreated name never sees its previous data");
    assert!(a.retired_ids().contains(&old));
    assert!(!a.retired_ids().contains(&new));
    assert!(new.0 >= kvorum_consistency::catalog::FIRST_CREATED_ID && new.0 != u32::MAX);
}

#[test]
fn default_cannot_be_created_dropped_or_moved() {
    let mut c = Catalog::new();
    assert!(matches!(
        c.create("default", def(None), stamp(1, 1)),
        Err(CatalogError::Exists(_))
    ));
    assert!(matches!(
        c.drop_namespace("default", stamp(1, 1)),
        Err(CatalogError::Default(_))
    ));
    let base = def(Some(0));
    assert!(c
        .alter("default", Some(&base), stamp(2, 1), |d| d.db = Some(3))
        .is_err());
    c.alter("default", Some(&base), stamp(3, 1), |d| d.policy.min_w = 2)
        .unwrap();
    assert_eq!(c.get("default").unwrap().policy.min_w, 2);
    assert!(matches!(
        c.create("bad name", def(None), stamp(4, 1)),
        Err(CatalogError::BadName(_))
    ));
}

#[test]
fn undecodable_catalogs_are_errors() {
    assert!(Catalog::decode(&[]).is_err());
    assert!(Catalog::decode(&[9, 1, 2]).is_err());
    assert!(Catalog::decode(&[1, 0xc1]).is_err());
}
