/* placeholder */
typedef int postie_placeholder_cmd_lookup;
