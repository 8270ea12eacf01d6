//! NB: interim method bodies so the API compiles before the store lands; replaced by it.
use super::*;

impl Store {
    pub async fn open(_url: &str) -> Result<Store> {
        unimplemented!("store")
    }
    pub async fn ping(&self) -> Result<()> {
        unimplemented!("store")
    }
    pub async fn record_alertmanager(
        &self,
        _intake: &AlertmanagerIntake,
        _quiet: jiff::SignedDuration,
    ) -> Result<Intake> {
        unimplemented!("store")
    }
    pub async fn record_pagerduty(&self, _intake: &PagerDutyIntake) -> Result<Intake> {
        unimplemented!("store")
    }
    pub async fn incidents(&self, _filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        unimplemented!("store")
    }
    pub async fn incident(&self, _id: i64) -> Result<Option<IncidentRow>> {
        unimplemented!("store")
    }
    pub async fn incident_webhooks(&self, _id: i64) -> Result<Vec<StoredWebhook>> {
        unimplemented!("store")
    }
    pub async fn count_open(&self) -> Result<i64> {
        unimplemented!("store")
    }
}
