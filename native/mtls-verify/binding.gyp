{
  "targets": [
    {
      "target_name": "mtls_verify",
      "sources": ["mtls_verify.cc"]
    }
  ]
}
