/*
 * Client-certificate verification inside the TLS handshake, for the XKS listener's mTLS.
 *
 * Node's TLS server installs an OpenSSL verify callback that accepts every certificate and
 * checks the result only after the handshake, so a client whose certificate does not verify
 * (expired, unknown CA) sees its connection dropped instead of a TLS alert. enforce() sets
 * the certificate verification of one secure context (SSL_CTX_set_cert_verify_callback):
 * the chain is verified against the context's CA store as usual, and a chain with any
 * verification error fails the handshake. OpenSSL then sends the alert that matches the
 * error (unknown_ca, certificate_expired, bad_certificate, ...), as a server on OpenSSL's
 * default verification does.
 *
 * It links no library: the OpenSSL functions resolve to the ones the running Node uses.
 * The argument is a secure context's native handle (SecureContext.context._external, a
 * v8::External holding the SSL_CTX*), so this is a V8 addon rather than a Node-API one.
 */
#include <node.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace {

int VerifyChain(X509_STORE_CTX* ctx, void*) {
  // Node's verify callback (kept) lets X509_verify_cert continue past each error; the
  // store context's error then holds the last one, which OpenSSL turns into the alert.
  if (X509_verify_cert(ctx) <= 0) return 0;
  return X509_STORE_CTX_get_error(ctx) == X509_V_OK ? 1 : 0;
}

void Enforce(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (args.Length() != 1 || !args[0]->IsExternal()) {
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8Literal(isolate, "expected a secure context's native handle")));
    return;
  }
  void* ptr = args[0].As<v8::External>()->Value();
  if (ptr == nullptr) {
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8Literal(isolate, "the secure context has no native context")));
    return;
  }
  SSL_CTX_set_cert_verify_callback(static_cast<SSL_CTX*>(ptr), VerifyChain, nullptr);
}

void Init(v8::Local<v8::Object> exports, v8::Local<v8::Value>, void*) {
  NODE_SET_METHOD(exports, "enforce", Enforce);
}

}  // namespace

NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
