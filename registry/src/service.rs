//! The registry at run time: the state, the one writer, the metrics. Reads share the
//! state; a write holds the writer for its whole decide → produce → apply cycle, so
//! what it decided from cannot change under it.

use tokio::sync::{Mutex, RwLock, RwLockReadGuard};
use tracing::{error, info};

use ledgerstream_schemas::compat::CompatibilityLevel;

use super::error::RegistryError;
use super::log::SchemaLog;
use super::metrics::Metrics;
use super::record::Record;
use super::rules::{self, Registration};
use super::schema::ParsedSchema;
use super::store::{Store, VersionSpec};

/// A registered schema's id and version, and whether this request created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub id: u32,
    pub version: u32,
    pub created: bool,
}

/// The running registry.
#[derive(Debug)]
pub struct Registry {
    store: RwLock<Store>,
    writer: Mutex<SchemaLog>,
    metrics: Metrics,
}

impl Registry {
    /// A registry serving `store` (rebuilt from the topic) and writing through `log`.
    pub fn new(store: Store, log: SchemaLog, metrics: Metrics) -> Self {
        metrics.schemas.set(store.schema_count() as i64);
        metrics.subjects.set(store.live_subject_count() as i64);
        Self {
            store: RwLock::new(store),
            writer: Mutex::new(log),
            metrics,
        }
    }

    /// The state, for reading.
    pub async fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().await
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Registers `schema` under `subject` (see [`rules::register`]).
    pub async fn register(
        &self,
        subject: &str,
        schema: &ParsedSchema,
    ) -> Result<Registered, RegistryError> {
        let log = self.writer.lock().await;
        let decided = rules::register(&*self.store.read().await, subject, schema)?;
        match decided {
            Registration::Existing { id, version } => Ok(Registered {
                id,
                version,
                created: false,
            }),
            Registration::New {
                id,
                version,
                records,
            } => {
                self.write(&log, records).await?;
                self.metrics.registered.inc();
                info!(subject, id, version, "schema registered");
                Ok(Registered {
                    id,
                    version,
                    created: true,
                })
            }
        }
    }

    /// Deletes a version (see [`rules::delete_version`]); answers its number.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<u32, RegistryError> {
        let log = self.writer.lock().await;
        let (version, record) =
            rules::delete_version(&*self.store.read().await, subject, spec, permanent)?;
        self.write(&log, vec![record]).await?;
        info!(subject, version, permanent, "version deleted");
        Ok(version)
    }

    /// Deletes a subject (see [`rules::delete_subject`]); answers the versions deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let log = self.writer.lock().await;
        let (versions, records) =
            rules::delete_subject(&*self.store.read().await, subject, permanent)?;
        self.write(&log, records).await?;
        info!(subject, ?versions, permanent, "subject deleted");
        Ok(versions)
    }

    /// Sets the level of `subject`, or the global one.
    pub async fn set_level(
        &self,
        subject: Option<&str>,
        level: CompatibilityLevel,
    ) -> Result<(), RegistryError> {
        let log = self.writer.lock().await;
        self.write(&log, vec![rules::set_level(subject, Some(level))])
            .await?;
        info!(subject, %level, "compatibility level set");
        Ok(())
    }

    /// Removes the subject's level (the global one then applies); answers the old one.
    pub async fn delete_subject_level(
        &self,
        subject: &str,
    ) -> Result<CompatibilityLevel, RegistryError> {
        let log = self.writer.lock().await;
        let (old, record) = rules::delete_subject_level(&*self.store.read().await, subject)?;
        self.write(&log, vec![record]).await?;
        info!(subject, %old, "compatibility level deleted");
        Ok(old)
    }

    /// Removes the global level (the default then applies); answers the old one.
    pub async fn delete_global_level(&self) -> Result<CompatibilityLevel, RegistryError> {
        let log = self.writer.lock().await;
        let old = self.store.read().await.effective_level(None);
        self.write(&log, vec![rules::set_level(None, None)]).await?;
        info!(%old, "global compatibility level deleted");
        Ok(old)
    }

    /// Appends each record and applies it once the broker confirmed it. On a failure,
    /// the records before it stay applied (they are in the topic); the failed one's id
    /// stays reserved, as it may have reached the topic unconfirmed.
    async fn write(&self, log: &SchemaLog, records: Vec<Record>) -> Result<(), RegistryError> {
        for record in records {
            if let Err(failure) = log.append(&record).await {
                self.metrics.write_failures.inc();
                error!(error = %failure, "write to the schemas topic failed");
                if let Record::Schema {
                    value: Some(value), ..
                } = &record
                {
                    self.store.write().await.reserve_id(value.id);
                }
                return Err(RegistryError::Store(failure.to_string()));
            }
            let mut store = self.store.write().await;
            if let Err(skipped) = store.apply(record) {
                error!(%skipped, "a record just written could not be applied");
            }
            self.metrics.schemas.set(store.schema_count() as i64);
            self.metrics.subjects.set(store.live_subject_count() as i64);
        }
        Ok(())
    }
}
