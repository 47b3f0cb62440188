//! [`Scan`]: every key of a namespace as a [`Stream`], fetched a page at a time.
//!
//! Keys come in key-hash order. One page is asked for at a time, only when the previous one is
//! used up, so a slow consumer holds at most one page in memory and puts no load on the
//! cluster. A page is a read: it is retried on another node if one fails. Keys written or
//! deleted while the scan runs may or may not be seen.
//!
//! ```no_run
//! # async fn example(ns: kvorum_client::Namespace) -> Result<(), kvorum_client::Error> {
//! let mut keys = ns.scan().page_size(500);
//! while let Some(key) = keys.next().await {
//!     println!("{:?}", key?);
//! }
//! # Ok(()) }
//! ```
//!
//! `Scan` implements [`futures_core::Stream`], so `StreamExt` combinators from `futures` or
//! `tokio-stream` work on it as well.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use kvorum_wire::native::{Body, Request, ScanPage, ScanRequest};

use crate::connection::body_name;
use crate::error::{Applied, Error};
use crate::namespace::Namespace;
use crate::options::{option_methods, Options};
use crate::request::BoxFuture;

/// The keys of a namespace (see the module docs). Set its options before the first poll.
#[must_use = "a stream does nothing unless polled"]
pub struct Scan {
    ns: Namespace,
    opts: Options,
    page_size: Option<u32>,
    keys: VecDeque<Bytes>,
    state: State,
}

enum State {
    /// The next page starts at this hash.
    Next(u64),
    Fetching(BoxFuture<Result<ScanPage, Error>>),
    Done,
}

impl Scan {
    pub(crate) fn new(ns: Namespace) -> Scan {
        Scan {
            ns,
            opts: Options::default(),
            page_size: None,
            keys: VecDeque::new(),
            state: State::Next(0),
        }
    }

    option_methods!();

    /// About this many keys per page (default: the client's `scan_page`; the node may cap it).
    pub fn page_size(mut self, keys: u32) -> Self {
        self.page_size = Some(keys.max(1));
        self
    }

    /// The next key; `None` at the end. An error ends the stream.
    pub async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Every remaining key, gathered in memory.
    pub async fn collect_keys(mut self) -> Result<Vec<Bytes>, Error> {
        let mut all = Vec::new();
        while let Some(key) = self.next().await {
            all.push(key?);
        }
        Ok(all)
    }

    fn fetch(&self, from: u64) -> BoxFuture<Result<ScanPage, Error>> {
        let ns = self.ns.clone();
        let opts = self.opts.clone();
        let count = self.page_size.unwrap_or(self.ns.inner().config.scan_page);
        Box::pin(async move {
            let request = Request::Scan(ScanRequest {
                ns: ns.id(),
                from_hash: from,
                count,
                consistency: opts.spec()?,
            });
            let (node, reply) = ns.inner().call(&request, false, None, &opts).await?;
            match reply.body {
                Body::Scan(page) => {
                    // A page must move forward, or the scan would never end.
                    if page.next.is_some_and(|next| next <= from) {
                        return Err(Error::Protocol {
                            node,
                            reason: format!(
                                "the scan page from {from} says to resume at {:?}",
                                page.next
                            ),
                            applied: Applied::No,
                        });
                    }
                    Ok(page)
                }
                other => Err(Error::Protocol {
                    node,
                    reason: format!("a {} reply to a scan", body_name(&other)),
                    applied: Applied::No,
                }),
            }
        })
    }
}

impl Stream for Scan {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(key) = self.keys.pop_front() {
                return Poll::Ready(Some(Ok(key)));
            }
            match &mut self.state {
                State::Done => return Poll::Ready(None),
                State::Next(from) => {
                    let from = *from;
                    let fetch = self.fetch(from);
                    self.state = State::Fetching(fetch);
                }
                State::Fetching(fetch) => match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        self.state = State::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Ok(page)) => {
                        self.keys.extend(page.keys);
                        self.state = match page.next {
                            Some(next) => State::Next(next),
                            None => State::Done,
                        };
                    }
                },
            }
        }
    }
}
