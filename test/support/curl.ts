import { spawn } from 'node:child_process';

export interface CurlResult {
  status: number;
  text: string;
  body: Record<string, unknown>;
  /** curl's verbose trace (request headers start with "> "). */
  trace: string;
}

/**
 * POSTs a body with curl's own SigV4 signer (`curl --aws-sigv4`), an implementation
 * independent of both Keyhold and @smithy. curl 7.88 signs content-type;host;x-amz-date.
 * A missing curl fails the test: it is a required tool (scripts/install-system-deps.sh).
 */
export function curlSigV4(opts: { url: string; caFile: string; region: string; credential: { accessKeyId: string; secretAccessKey: string }; body: string; service?: string }): Promise<CurlResult> {
  const args = [
    '-sS',
    '-v',
    '--aws-sigv4',
    `aws:amz:${opts.region}:${opts.service ?? 'kms-xks-proxy'}`,
    '--user',
    `${opts.credential.accessKeyId}:${opts.credential.secretAccessKey}`,
    '--cacert',
    opts.caFile,
    '-H',
    'Content-Type: application/json',
    '--data-binary',
    '@-',
    '-w',
    '\n%{http_code}',
    opts.url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`cannot run curl (a required test tool): ${e.message}`)));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited with ${code}: ${stderr}`));
      const nl = stdout.lastIndexOf('\n');
      const text = stdout.slice(0, nl);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
      resolve({ status: Number(stdout.slice(nl + 1)), text, body, trace: stderr });
    });
    child.stdin.end(opts.body);
  });
}
