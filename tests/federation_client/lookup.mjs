// Looks DIDs up with the DCC issuer registry client, configured as a verifier would configure it.
// Usage: node lookup.mjs <trust anchor entity configuration URL> <did>...
// The last line of output is "RESULT " + JSON {did: lookupIssuersFor(did)}; the client logs its own errors above it.
import { RegistryClient } from '@digitalcredentials/issuer-registry-client'

const [trustAnchorEC, ...dids] = process.argv.slice(2)
const client = new RegistryClient()
client.use({ registries: [{ type: 'oidf', name: 'Provider QA Registry', trustAnchorEC }] })
const results = {}
for (const did of dids) {
  results[did] = await client.lookupIssuersFor(did)
}
console.log('RESULT ' + JSON.stringify(results))
