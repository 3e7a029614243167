"""The RDS roots the rotation function trusts when it signs in to the cluster (tools/rds_ca.py writes them)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from orders.adapters.mysql import RDS_ROOTS, tls_context


def test_the_bundle_holds_rds_g1_roots_only_each_self_signed_and_valid_for_years():
    # GIVEN the bundle the package ships
    certificates = x509.load_pem_x509_certificates(RDS_ROOTS.read_bytes())
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    # THEN it holds every region's G1 roots, each a root, none expiring within a year
    assert len(certificates) > 20  # every region's, in three key types
    for certificate in certificates:
        subject = certificate.subject.rfc4514_string()
        assert "OU=Amazon RDS" in subject
        assert "Root CA" in subject
        assert "G1" in subject, subject
        assert certificate.issuer == certificate.subject  # a root
        assert certificate.not_valid_after_utc > soon
    names = {certificate.subject.rfc4514_string() for certificate in certificates}
    assert any("CN=Amazon RDS us-east-1 Root CA RSA2048 G1" in name for name in names)


def test_the_clusters_trust_is_that_bundle_and_the_proxys_the_runtimes_store():
    # GIVEN the two trusts, THEN the cluster's holds exactly the bundle and the proxy's none of it
    assert len(tls_context("rds").get_ca_certs()) == len(x509.load_pem_x509_certificates(RDS_ROOTS.read_bytes()))
    assert not any("Amazon RDS" in str(ca.get("subject")) for ca in tls_context("proxy").get_ca_certs())
