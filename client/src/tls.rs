//! TLS and QUIC configuration of the client's endpoint.
//!
//! The client trusts only the cluster CA. A node it dials by id must present a certificate for
//! `n{id}.kvorum.internal` ([`kvorum_wire::native::node_server_name`]), checked by rustls during
//! the handshake, so a request for node 2 can never land on node 3 or on a host outside the
//! cluster.
//!
//! A *seed* is an address whose node id the client does not know yet. It is dialled under the
//! reserved name [`SEED_SERVER_NAME`]; for that name only, the handshake checks that the
//! certificate is valid and signed by the cluster CA (which may only issue names under
//! `kvorum.internal`), and the name is checked right after the hello instead: the node's
//! [`kvorum_wire::native::Welcome`] says which node it is, and its certificate must name that
//! node ([`certificate_names_node`]).
//!
//! The crypto provider (ring) is passed explicitly, as the nodes do, so the client never depends
//! on which provider some other code installed process-wide. QUIC needs TLS 1.3, so only that
//! version is offered.

use std::sync::Arc;

use kvorum_wire::native::{node_server_name, NATIVE_ALPN};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{IdleTimeout, TransportConfig, VarInt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::Config;
use crate::error::Error;

/// The TLS server name under which seeds (nodes of unknown id) are dialled.
pub(crate) const SEED_SERVER_NAME: &str = "seed.kvorum.internal";

/// The QUIC client configuration for the native protocol.
pub(crate) fn client_config(config: &Config) -> Result<quinn::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = Arc::new(ca_roots(config)?);
    let verifier = Arc::new(NodeVerifier {
        webpki: WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the certificate verifier: {e}")))?,
        roots,
        provider: provider.clone(),
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_config)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut tls = match &config.identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(&cert.load("client certificate")?, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(&key.load("client key")?)
                .map_err(|e| Error::Config(format!("cannot read the client key: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(tls_config)?
        }
    };
    tls.alpn_protocols = vec![NATIVE_ALPN.to_vec()];
    let quic = QuicClientConfig::try_from(tls)
        .map_err(|e| Error::Config(format!("TLS configuration unusable for QUIC: {e}")))?;
    let mut client = quinn::ClientConfig::new(Arc::new(quic));
    let mut transport = TransportConfig::default();
    // Nodes never open streams towards a client.
    transport.max_concurrent_bidi_streams(VarInt::from_u32(0));
    transport.max_concurrent_uni_streams(VarInt::from_u32(0));
    transport.keep_alive_interval(Some(config.keep_alive));
    transport.max_idle_timeout(Some(
        IdleTimeout::try_from(config.idle_timeout)
            .map_err(|e| Error::Config(format!("idle timeout: {e}")))?,
    ));
    client.transport_config(Arc::new(transport));
    Ok(client)
}

/// Whether the certificate chain a connection's peer presented names node `id`.
pub(crate) fn certificate_names_node(conn: &quinn::Connection, id: u64) -> bool {
    let Some(identity) = conn.peer_identity() else {
        return false;
    };
    let Ok(chain) = identity.downcast::<Vec<CertificateDer<'static>>>() else {
        return false;
    };
    let Some(leaf) = chain.first() else {
        return false;
    };
    let (Ok(parsed), Ok(name)) = (
        ParsedCertificate::try_from(leaf),
        ServerName::try_from(node_server_name(id)),
    ) else {
        return false;
    };
    rustls::client::verify_server_name(&parsed, &name).is_ok()
}

fn ca_roots(config: &Config) -> Result<RootCertStore, Error> {
    let pem = config
        .ca
        .as_ref()
        .ok_or_else(|| Error::Config("no CA certificate configured".into()))?
        .load("CA certificate")?;
    let mut roots = RootCertStore::empty();
    for cert in certificates(&pem, "CA certificate")? {
        roots
            .add(cert)
            .map_err(|e| Error::Config(format!("unusable CA certificate: {e}")))?;
    }
    Ok(roots)
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("cannot read the {what}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "the {what} holds no PEM certificate"
        )));
    }
    Ok(certs)
}

fn tls_config(e: rustls::Error) -> Error {
    Error::Config(format!("TLS configuration: {e}"))
}

/// rustls' WebPKI verification, except that a seed's name is checked after the hello
/// (module docs).
#[derive(Debug)]
struct NodeVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NodeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let is_seed =
            matches!(server_name, ServerName::DnsName(n) if n.as_ref() == SEED_SERVER_NAME);
        if !is_seed {
            return self.webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
        }
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
