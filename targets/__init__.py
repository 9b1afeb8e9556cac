"""Storage locations: one module per kind (local, sftp, s3). The only place that imports boto3."""
