// Package grafana holds a Grafana dashboard of a streamstat job's
// Prometheus metrics (streamstat.json), the provisioning files that load
// it, and a prometheus.yml that scrapes the job; see README.md. Its test
// reads the dashboard strictly and checks every metric it queries against
// what package promexport serves.
package grafana
