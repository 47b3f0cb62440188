//! The cluster PKI on disk: one CA per cluster, one certificate per node.
//!
//! Files (PEM):
//! - CA directory: `ca.pem` (the CA certificate, handed to every node) and `ca-key.pem` (its
//!   private key, mode 0600, needed only where node certificates are issued);
//! - node directory: `node.pem` (the node certificate) and `node-key.pem` (mode 0600).
//!
//! **Identity rule.** Node `id` is the DNS name `n{id}.kvorum.internal` — the only subject
//! alternative name of its certificate (and its common name). The CA carries a name constraint
//! for `kvorum.internal`, so even a mis-issued certificate cannot claim another domain. Peers check
//! the name with rustls' own name matching ([`cert_names_node`]); we never parse certificate
//! fields ourselves.
//!
//! Existing files are never overwritten: every node certificate hangs off the CA, and replacing a
//! node key by accident would lock the node out of its cluster. To re-issue, delete first.
//!
//! Certificates are valid for ten years (backdated one day to tolerate clock skew); rotation is a
//! later concern.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, PublicKeyData,
};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;

use super::error::PeerError;

/// CA certificate file name.
pub const CA_CERT_FILE: &str = "ca.pem";
/// CA private key file name.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// Node certificate file name.
pub const NODE_CERT_FILE: &str = "node.pem";
/// Node private key file name.
pub const NODE_KEY_FILE: &str = "node-key.pem";
/// DNS domain under which node names live; also the CA's permitted name subtree.
pub const NODE_DOMAIN: &str = "kvorum.internal";

const CA_COMMON_NAME: &str = "kvorum cluster CA";
const ORGANIZATION: &str = "kvorum";
const VALIDITY: Duration = Duration::from_secs(3653 * 24 * 3600);
const BACKDATE: Duration = Duration::from_secs(24 * 3600);

/// The DNS name that identifies node `node_id` in certificates and TLS server names.
pub fn node_dns_name(node_id: u64) -> String {
    format!("n{node_id}.{NODE_DOMAIN}")
}

/// Whether `cert` names node `node_id` (its SAN matches [`node_dns_name`]). Does not check the
/// signature: use it on certificates the TLS handshake has already verified.
pub fn cert_names_node(cert: &CertificateDer<'_>, node_id: u64) -> bool {
    let Ok(parsed) = ParsedCertificate::try_from(cert) else {
        return false;
    };
    let Ok(name) = ServerName::try_from(node_dns_name(node_id)) else {
        return false;
    };
    rustls::client::verify_server_name(&parsed, &name).is_ok()
}

/// The cluster certificate authority: signs node certificates.
pub struct ClusterCa {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl ClusterCa {
    /// Creates a new CA and writes `ca.pem` and `ca-key.pem` into `dir` (created if missing).
    /// Fails if either file already exists.
    pub fn create(dir: &Path) -> Result<Self, PeerError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        refuse_existing(&[&cert_path, &key_path])?;
        let key = KeyPair::generate().map_err(cert_gen)?;
        let mut params = ca_params();
        set_validity(&mut params)?;
        let cert = params.self_signed(&key).map_err(cert_gen)?;
        create_dir(dir)?;
        write_new(&key_path, &key.serialize_pem(), true)?;
        write_new(&cert_path, &cert.pem(), false)?;
        Ok(Self {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads the CA written by [`ClusterCa::create`] and checks that key and certificate belong
    /// together.
    pub fn load(dir: &Path) -> Result<Self, PeerError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert = read_first_cert(&cert_path)?;
        let key_pem = read_to_string(&key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| invalid_pem(&key_path, e))?;
        if !key_matches_cert(&key, &cert) {
            return Err(PeerError::InvalidPem {
                path: key_path,
                reason: format!("key does not match the certificate in {CA_CERT_FILE}"),
            });
        }
        // rcgen cannot rebuild an issuer from a certificate without an extra X.509 parser. It does
        // not need to: issued certificates only copy the issuer's distinguished name and derive the
        // authority key id from the key, both of which `ca_params` and the key reproduce exactly.
        Ok(Self {
            cert,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// The CA certificate (the trust anchor of the cluster).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// Issues a certificate for `node_id`, writes `node.pem` and `node-key.pem` into `dir`
    /// (created if missing; existing files are not overwritten) and returns the identity.
    pub fn issue_node(&self, node_id: u64, dir: &Path) -> Result<NodeIdentity, PeerError> {
        let cert_path = dir.join(NODE_CERT_FILE);
        let key_path = dir.join(NODE_KEY_FILE);
        refuse_existing(&[&cert_path, &key_path])?;
        let name = node_dns_name(node_id);
        let mut params = CertificateParams::new(vec![name.clone()]).map_err(cert_gen)?;
        params.distinguished_name = distinguished_name(&name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // Every node is both a TLS server (accepting peers) and a TLS client (dialing them).
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params)?;
        let key = KeyPair::generate().map_err(cert_gen)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(cert_gen)?;
        create_dir(dir)?;
        write_new(&key_path, &key.serialize_pem(), true)?;
        write_new(&cert_path, &cert.pem(), false)?;
        Ok(NodeIdentity {
            node_id,
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            ca: self.cert.clone(),
        })
    }
}

/// What a node presents and trusts: its certificate chain and key, and the cluster CA.
pub struct NodeIdentity {
    node_id: u64,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: CertificateDer<'static>,
}

impl NodeIdentity {
    /// Loads `node.pem` and `node-key.pem` from `dir` and the CA certificate from `ca_cert_path`,
    /// and checks that they fit: the certificate names `node_id`, chains to the CA, is currently
    /// valid, and matches the key. A mismatch here would otherwise surface later as an opaque
    /// handshake failure on every peer.
    pub fn load(node_id: u64, dir: &Path, ca_cert_path: &Path) -> Result<Self, PeerError> {
        let cert_path = dir.join(NODE_CERT_FILE);
        let key_path = dir.join(NODE_KEY_FILE);
        let chain = read_certs(&cert_path)?;
        let ca = read_first_cert(ca_cert_path)?;
        let key_pem = read_to_string(&key_path)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
            pem::Error::NoItemsFound => PeerError::InvalidPem {
                path: key_path.clone(),
                reason: "no private key found".into(),
            },
            other => invalid_pem(&key_path, other),
        })?;
        let key_pair = KeyPair::from_pem(&key_pem).map_err(|e| invalid_pem(&key_path, e))?;
        let (leaf, intermediates) = chain.split_first().ok_or_else(|| PeerError::InvalidPem {
            path: cert_path.clone(),
            reason: "no certificate found".into(),
        })?;
        let wrong = |reason: String| PeerError::WrongIdentity {
            path: cert_path.clone(),
            node_id,
            reason,
        };
        if !key_matches_cert(&key_pair, leaf) {
            return Err(wrong(format!(
                "it does not match the key in {NODE_KEY_FILE}"
            )));
        }
        if !cert_names_node(leaf, node_id) {
            return Err(wrong(format!(
                "it does not name {}",
                node_dns_name(node_id)
            )));
        }
        verify_chain(leaf, intermediates, &ca).map_err(|e| {
            wrong(format!(
                "not issued by the CA in {}: {e}",
                ca_cert_path.display()
            ))
        })?;
        Ok(Self {
            node_id,
            chain,
            key,
            ca,
        })
    }

    /// The node this identity belongs to.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The certificate chain presented to peers (leaf first).
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The node's private key.
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// The cluster CA certificate: the only trust anchor for peers.
    pub fn ca_cert(&self) -> &CertificateDer<'static> {
        &self.ca
    }
}

impl Clone for NodeIdentity {
    fn clone(&self) -> Self {
        Self {
            node_id: self.node_id,
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            ca: self.ca.clone(),
        }
    }
}

impl std::fmt::Debug for NodeIdentity {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("node_id", &self.node_id)
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// The CA's parameters without validity dates. Deterministic, because [`ClusterCa::load`]
/// rebuilds the issuer from them.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(CA_COMMON_NAME);
    // Path length 0: the CA signs node certificates directly, never another CA.
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![GeneralSubtree::DnsName(NODE_DOMAIN.into())],
        excluded_subtrees: Vec::new(),
    });
    params
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Sets the validity window of a certificate issued now. rcgen's date type is reached through
/// `date_time_ymd` so that this crate needs no direct dependency on the date library.
fn set_validity(params: &mut CertificateParams) -> Result<(), PeerError> {
    let since_epoch =
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| PeerError::Config {
                field: "system clock",
                reason: e.to_string(),
            })?;
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_before = now - BACKDATE;
    params.not_after = now + VALIDITY;
    Ok(())
}

fn key_matches_cert(key: &KeyPair, cert: &CertificateDer<'_>) -> bool {
    ParsedCertificate::try_from(cert)
        .map(|parsed| parsed.subject_public_key_info().as_ref() == key.subject_public_key_info())
        .unwrap_or(false)
}

fn verify_chain(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    ca: &CertificateDer<'_>,
) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    let parsed = ParsedCertificate::try_from(leaf)?;
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    rustls::client::verify_server_cert_signed_by_trust_anchor(
        &parsed,
        &roots,
        intermediates,
        UnixTime::now(),
        algorithms.all,
    )
}

fn read_to_string(path: &Path) -> Result<String, PeerError> {
    fs::read_to_string(path).map_err(|source| PeerError::Io {
        action: "cannot read",
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PeerError> {
    let pem = read_to_string(path)?;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid_pem(path, e))?;
    if certs.is_empty() {
        return Err(PeerError::InvalidPem {
            path: path.to_path_buf(),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

fn read_first_cert(path: &Path) -> Result<CertificateDer<'static>, PeerError> {
    read_certs(path)?
        .into_iter()
        .next()
        .ok_or_else(|| PeerError::InvalidPem {
            path: path.to_path_buf(),
            reason: "no certificate found".into(),
        })
}

fn refuse_existing(paths: &[&PathBuf]) -> Result<(), PeerError> {
    match paths.iter().find(|p| p.exists()) {
        Some(path) => Err(PeerError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        None => Ok(()),
    }
}

fn create_dir(dir: &Path) -> Result<(), PeerError> {
    fs::create_dir_all(dir).map_err(|source| PeerError::Io {
        action: "cannot create directory",
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes a new file (never replacing one) and syncs it. `private` files get mode 0600 from the
/// moment they exist, so a key is never readable by others, not even briefly.
fn write_new(path: &Path, contents: &str, private: bool) -> Result<(), PeerError> {
    let io_err = |source| PeerError::Io {
        action: "cannot write",
        path: path.to_path_buf(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            PeerError::AlreadyExists {
                path: path.to_path_buf(),
            }
        } else {
            io_err(source)
        }
    })?;
    file.write_all(contents.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

fn cert_gen(source: rcgen::Error) -> PeerError {
    PeerError::CertGen { source }
}

fn invalid_pem(path: &Path, e: impl std::fmt::Display) -> PeerError {
    PeerError::InvalidPem {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn issued_certificate_names_its_node_only() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create(&dir.path().join("ca")).unwrap();
        let id = ca.issue_node(7, &dir.path().join("n7")).unwrap();
        let leaf = &id.cert_chain()[0];
        assert!(cert_names_node(leaf, 7));
        assert!(!cert_names_node(leaf, 8));
        assert!(!cert_names_node(leaf, 70));
        assert!(!cert_names_node(ca.cert_der(), 7));
        assert!(!cert_names_node(&CertificateDer::from(vec![0x30, 0x03]), 7));
    }

    #[test]
    fn loaded_ca_issues_certificates_the_original_trusts() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ca");
        ClusterCa::create(&ca_dir).unwrap();
        let reloaded = ClusterCa::load(&ca_dir).unwrap();
        reloaded.issue_node(3, &dir.path().join("n3")).unwrap();
        let loaded =
            NodeIdentity::load(3, &dir.path().join("n3"), &ca_dir.join(CA_CERT_FILE)).unwrap();
        assert_eq!(loaded.node_id(), 3);
        assert_eq!(loaded.ca_cert(), reloaded.cert_der());
    }

    #[test]
    fn existing_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create(dir.path()).unwrap();
        assert!(matches!(
            ClusterCa::create(dir.path()),
            Err(PeerError::AlreadyExists { .. })
        ));
        ca.issue_node(1, &dir.path().join("n1")).unwrap();
        assert!(matches!(
            ca.issue_node(1, &dir.path().join("n1")),
            Err(PeerError::AlreadyExists { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::create(dir.path()).unwrap();
        ca.issue_node(1, &dir.path().join("n1")).unwrap();
        for key in [
            dir.path().join(CA_KEY_FILE),
            dir.path().join("n1").join(NODE_KEY_FILE),
        ] {
            let mode = fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", key.display());
        }
    }

    #[test]
    fn loading_rejects_mismatched_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca_a = ClusterCa::create(&dir.path().join("a")).unwrap();
        ClusterCa::create(&dir.path().join("b")).unwrap();
        ca_a.issue_node(1, &dir.path().join("n1")).unwrap();
        let n1 = dir.path().join("n1");

        // Wrong node id.
        let err = NodeIdentity::load(2, &n1, &dir.path().join("a").join(CA_CERT_FILE)).unwrap_err();
        assert!(
            matches!(err, PeerError::WrongIdentity { node_id: 2, .. }),
            "{err}"
        );
        // Another cluster's CA.
        let err = NodeIdentity::load(1, &n1, &dir.path().join("b").join(CA_CERT_FILE)).unwrap_err();
        assert!(matches!(err, PeerError::WrongIdentity { .. }), "{err}");
        // A CA key that belongs to another CA certificate.
        fs::copy(
            dir.path().join("b").join(CA_KEY_FILE),
            dir.path().join("a").join(CA_KEY_FILE),
        )
        .unwrap();
        let err = ClusterCa::load(&dir.path().join("a")).err().unwrap();
        assert!(matches!(err, PeerError::InvalidPem { .. }), "{err}");
        // Garbage instead of PEM.
        fs::write(n1.join(NODE_CERT_FILE), "not a certificate").unwrap();
        let err = NodeIdentity::load(1, &n1, &dir.path().join("b").join(CA_CERT_FILE)).unwrap_err();
        assert!(matches!(err, PeerError::InvalidPem { .. }), "{err}");
    }
}
