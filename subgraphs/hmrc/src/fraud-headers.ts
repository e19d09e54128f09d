import { randomUUID } from 'node:crypto';
import os from 'node:os';

/**
 * HMRC's fraud-prevention headers, mandatory on every Making Tax Digital call. The hub calls HMRC from a server
 * process on the care group's behalf (a scheduled or operator-triggered submission), which HMRC's guidance calls
 * BATCH_PROCESS_DIRECT: the headers describe this server, its user (the hub client that asked) and the hub as the
 * vendor. Values are percent-encoded where the specification says so.
 */
const enc = encodeURIComponent;
const VENDOR_VERSION = 'care-home-integration-hub=0.1.0';

export function createFraudHeaders(deviceId: string = randomUUID()) {
  // Stable per process start; HMRC wants the same device ID across calls of one installation.
  const device = deviceId;
  const timezone = (() => {
    const minutes = -new Date().getTimezoneOffset();
    const sign = minutes >= 0 ? '+' : '-';
    const abs = Math.abs(minutes);
    return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  })();
  const interfaces = Object.values(os.networkInterfaces())
    .flat()
    .filter((i): i is os.NetworkInterfaceInfo => !!i && !i.internal);
  const ips = [...new Set(interfaces.map((i) => i.address))];
  const macs = [...new Set(interfaces.map((i) => i.mac).filter((m) => m && m !== '00:00:00:00:00:00'))];
  const userAgent = [`os-family=${enc(os.type())}`, `os-version=${enc(os.release())}`, `device-manufacturer=${enc('unknown')}`, `device-model=${enc(os.arch())}`].join('&');

  return (actor: string): Record<string, string> => ({
    'Gov-Client-Connection-Method': 'BATCH_PROCESS_DIRECT',
    'Gov-Client-Device-ID': device,
    'Gov-Client-User-IDs': `os=${enc(actor)}`,
    'Gov-Client-Timezone': timezone,
    'Gov-Client-Local-IPs': (ips.length ? ips : ['127.0.0.1']).map(enc).join(','),
    'Gov-Client-Local-IPs-Timestamp': new Date().toISOString(),
    'Gov-Client-MAC-Addresses': (macs.length ? macs : ['00:00:00:00:00:00']).map(enc).join(','),
    'Gov-Client-User-Agent': userAgent,
    'Gov-Vendor-Version': VENDOR_VERSION,
    'Gov-Vendor-Product-Name': enc('Care-home integration hub'),
  });
}
