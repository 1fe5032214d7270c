"""One boto3 sequence, judged against real KMS (kms-semantics.md section 2 and 5).

Usage: python3 test/kms-compare.py ENDPOINT ACCESS_KEY_ID SECRET_ACCESS_KEY REGION
Prints one JSON object: {"steps": [{"step", "ok", "got"}...]}. "ok" is true when the backend
answered as KMS does; "got" says what it answered (a state, an error code, or a value).
Run by test/kms-compare.test.ts on the KMS simulator and on moto.
"""
import json
import sys
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_der_public_key

endpoint, access_key, secret, region = sys.argv[1:5]
kms = boto3.client(
    "kms",
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id=access_key,
    aws_secret_access_key=secret,
    config=Config(retries={"max_attempts": 1}),
)
steps = []


def code_of(fn):
    """Runs fn; returns "ok" or the error code it raised (HTTP status when there is none)."""
    try:
        fn()
        return "ok"
    except ClientError as e:
        return e.response.get("Error", {}).get("Code") or str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    except Exception as e:  # a non-JSON answer (moto's HTTP 500 page) and the like
        return type(e).__name__


def step(name, ok, got):
    steps.append({"step": name, "ok": bool(ok), "got": got})


def state(key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


suffix = uuid.uuid4().hex[:8]

# create: a symmetric key with KMS's defaults.
md = kms.create_key(Description="compare")["KeyMetadata"]
key = md["KeyId"]
step("create", md.get("KeyState") == "Enabled" and md.get("KeySpec") == "SYMMETRIC_DEFAULT" and md.get("KeyUsage") == "ENCRYPT_DECRYPT" and md.get("Origin") == "AWS_KMS",
     {"state": md.get("KeyState"), "usage": md.get("KeyUsage")})

# describe: by id and by ARN, the same key.
by_arn = kms.describe_key(KeyId=md["Arn"])["KeyMetadata"]
step("describe", by_arn["KeyId"] == key and by_arn["Description"] == "compare" and md["Arn"].endswith(":key/" + key), by_arn["KeyId"] == key)

# alias: create, resolve; the alias/aws/ prefix is reserved for AWS.
alias = "alias/compare-" + suffix
kms.create_alias(AliasName=alias, TargetKeyId=key)
resolved = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
step("alias", resolved == key, resolved == key)
reserved = code_of(lambda: kms.create_alias(AliasName="alias/aws/compare-" + suffix, TargetKeyId=key))
step("alias-reserved-prefix", reserved == "NotAuthorizedException", reserved)

# tag: set and list.
kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "payments"}])
tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key)["Tags"]}
step("tag", tags == {"team": "payments"}, tags)

# ListKeys honours Limit (pages with Truncated / NextMarker).
kms.create_key(Description="compare 2")
page = kms.list_keys(Limit=1)
step("list-keys-limit", len(page["Keys"]) == 1 and page.get("Truncated") is True, {"keys": len(page["Keys"]), "truncated": page.get("Truncated")})

# disable, and Encrypt on a disabled key.
kms.disable_key(KeyId=key)
step("disable", state(key) == "Disabled", state(key))
got = code_of(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"))
step("encrypt-on-disabled", got == "DisabledException", got)

kms.enable_key(KeyId=key)
step("enable", state(key) == "Enabled", state(key))

# schedule-deletion with 7 days (the minimum), Encrypt then, cancel.
r = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
step("schedule-deletion-7", state(key) == "PendingDeletion" and r.get("DeletionDate") is not None, state(key))
got = code_of(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"))
step("encrypt-on-pending-deletion", got == "KMSInvalidStateException", got)
kms.cancel_key_deletion(KeyId=key)
step("cancel-deletion", state(key) == "Disabled", state(key))

# schedule-deletion with 6 days: below KMS's 7-30.
got = code_of(lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=6))
step("schedule-deletion-6", got == "ValidationException" and state(key) == "Disabled", {"answer": got, "state": state(key)})

# import: an EXTERNAL key waits for material; Encrypt fails until it is imported.
ext = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
step("create-external", ext.get("KeyState") == "PendingImport", ext.get("KeyState"))
got = code_of(lambda: kms.encrypt(KeyId=ext["KeyId"], Plaintext=b"x"))
step("encrypt-without-material", got == "KMSInvalidStateException", got)


def do_import():
    p = kms.get_parameters_for_import(KeyId=ext["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    pub = load_der_public_key(p["PublicKey"])
    material = bytes(range(32))
    wrapped = pub.encrypt(material, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    kms.import_key_material(KeyId=ext["KeyId"], ImportToken=p["ImportToken"], EncryptedKeyMaterial=wrapped, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    ct = kms.encrypt(KeyId=ext["KeyId"], Plaintext=b"imported")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"imported"


got = code_of(do_import)
step("import", got == "ok" and state(ext["KeyId"]) == "Enabled", got)

print(json.dumps({"steps": steps}))
