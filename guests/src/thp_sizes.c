/* Linked into the cow selftest by guests/mm-selftests.sh (THP_SIZES=pmd): cow runs every case
 * once per THP size the kernel offers (8 sizes on x86-64 since mTHP), which is too slow under
 * TCG for the default set. Offer it 64K only besides the PMD size it always adds itself.
 * thp_settings.c is compiled with its own thp_supported_orders renamed to the one below.
 */
unsigned long pinbench_real_thp_supported_orders(void);

unsigned long thp_supported_orders(void)
{
	return pinbench_real_thp_supported_orders() & (1UL << 4);
}
