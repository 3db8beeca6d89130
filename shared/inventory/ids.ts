// Inventory — domain: the public identifiers of inventory objects, `<vcenterId>:<moid>`. Their one parser and
// its rules are a contract (shared/contracts/ids.ts), since ops and the API paths name VMs the same way.
export {
  formatId,
  formatRef,
  moidPattern,
  type ObjectRef,
  parseId,
  vcenterIdPattern,
} from '#shared/contracts';
